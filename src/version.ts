import { readFileSync } from "node:fs";

/** serin's version: package.json's, read once where it is asked for (`serin --version`, serin_info). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return manifest.version;
}
