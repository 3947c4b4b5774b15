// A Secret (or ConfigMap) volume, written the way the kubelet writes it: the files live in a hidden
// timestamped folder, `..data` is a symlink to that folder, and each top-level name is a symlink through
// `..data`. An update writes a new folder and renames a new `..data` over the old one, so that a reader
// sees the old set of files or the new one, never a mix; then the old folder goes.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

const DATA_LINK = "..data";

/** A new folder name in the kubelet's style: `..` then the time, unique within the volume. */
function timestampedName(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "_").replace("T", "_").replace(/\..*$/, "");
  return `..${stamp}.${randomBytes(4).toString("hex")}`;
}

/** A file of a volume: its content, with the volume's mode unless it names its own. */
export type VolumeFile = Buffer | string | { content: Buffer | string; mode: number };

/**
 * Makes `dir` hold exactly `files` (relative path -> content) with the kubelet's layout, replacing what
 * it held in one rename. A path may have folders (`a/b`); each top-level name is a symlink through
 * `..data`.
 */
export async function writeVolumeFiles(
  dir: string,
  files: Readonly<Record<string, VolumeFile>>,
  mode = 0o644,
): Promise<void> {
  for (const path of Object.keys(files)) {
    const parts = path.split("/");
    if (parts.some((part) => part === "" || part === "." || part.startsWith(".."))) {
      throw new Error(`a volume file path must be relative, without . or .. parts: ${JSON.stringify(path)}`);
    }
  }
  await mkdir(dir, { recursive: true });
  const previous = await readlink(join(dir, DATA_LINK)).catch(() => undefined);

  const folder = timestampedName();
  await mkdir(join(dir, folder), { mode: 0o755 });
  for (const [path, file] of Object.entries(files)) {
    const target = join(dir, folder, path);
    await mkdir(dirname(target), { recursive: true });
    const plain = typeof file === "string" || Buffer.isBuffer(file);
    await writeFile(target, plain ? file : file.content);
    await chmod(target, plain ? mode : file.mode);
  }
  const temporaryLink = join(dir, `${DATA_LINK}_tmp`);
  await rm(temporaryLink, { force: true });
  await symlink(folder, temporaryLink);
  await rename(temporaryLink, join(dir, DATA_LINK));

  const wanted = new Set(Object.keys(files).map((path) => path.split("/")[0] as string));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith("..")) continue;
    if (!wanted.has(entry)) await rm(join(dir, entry), { force: true });
  }
  for (const name of wanted) {
    await symlink(join(DATA_LINK, name), join(dir, name)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
  if (previous && previous !== folder) await rm(join(dir, previous), { recursive: true, force: true });
}
