// serin's image as the local kubelet runs it: the configuration of the Dockerfile's final stage (working
// dir, environment, user, entrypoint, command) and its file set, laid out by scripts/image-files.mjs, the
// script the Dockerfile runs for that stage.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { runCommand } from "./processes.js";
import { repoRoot } from "./repo.js";

export interface ImageConfig {
  /** The final stage's FROM, e.g. node:24-bookworm-slim. */
  base: string;
  workingDir: string;
  /** ENV of the final stage, after the base image's PATH. */
  env: [string, string][];
  /** USER as written, e.g. "65532:65532". */
  user: string;
  entrypoint: string[];
  cmd: string[];
}

/** The PATH of the official Node images, which the final stage inherits. */
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function jsonArray(instruction: string, text: string): string[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string"))
    throw new Error(`Dockerfile ${instruction} is not a JSON array of strings: ${text}`);
  return value;
}

/** The configuration of the last stage of a Dockerfile, for the instructions serin's uses. */
export function imageConfig(dockerfile: string): ImageConfig {
  const lines = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const lastFrom = lines.map((line) => /^FROM\s/i.test(line)).lastIndexOf(true);
  if (lastFrom < 0) throw new Error("the Dockerfile has no FROM");
  const config: ImageConfig = {
    base: (lines[lastFrom] as string).split(/\s+/)[1] ?? "",
    workingDir: "/",
    env: [["PATH", BASE_PATH]],
    user: "0",
    entrypoint: [],
    cmd: [],
  };
  for (const line of lines.slice(lastFrom + 1)) {
    const [, instruction = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    switch (instruction.toUpperCase()) {
      case "WORKDIR":
        config.workingDir = rest;
        break;
      case "USER":
        config.user = rest;
        break;
      case "ENV":
        for (const [, key = "", value = ""] of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          config.env.push([key, value.replace(/^"|"$/g, "")]);
        break;
      case "ENTRYPOINT":
        config.entrypoint = jsonArray(instruction, rest);
        config.cmd = [];
        break;
      case "CMD":
        config.cmd = jsonArray(instruction, rest);
        break;
    }
  }
  return config;
}

/** The repository's Dockerfile, read. */
export async function serinImageConfig(): Promise<ImageConfig> {
  return imageConfig(await readFile(join(repoRoot, "Dockerfile"), "utf8"));
}

/** Lays serin's image file set out under `dir` (which must not exist or be empty) from the built tree. */
export async function layOutImageFiles(dir: string): Promise<void> {
  const script = join(repoRoot, "scripts", "image-files.mjs");
  const result = await runCommand(process.execPath, [script, "--out", dir], { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`${script} --out ${dir} failed: ${result.stderr.trim()}`);
}
