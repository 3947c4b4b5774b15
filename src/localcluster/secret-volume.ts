// A Secret mounted as a volume, written the way the kubelet writes it: the files live in a hidden
// timestamped folder, `..data` is a symlink to that folder, and each key is a symlink through `..data`.
// An update writes a new folder and renames a new `..data` over the old one, so that a reader sees the
// old set of files or the new one, never a mix; then the old folder goes. `mirrorSecret` keeps such a
// folder in step with a Secret, as the kubelet's periodic sync does.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";

const DATA_LINK = "..data";

/** A new folder name in the kubelet's style: `..` then the time, unique within the volume. */
function timestampedName(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "_").replace("T", "_").replace(/\..*$/, "");
  return `..${stamp}.${randomBytes(4).toString("hex")}`;
}

/**
 * Makes `dir` hold exactly `files` (name -> content) with the kubelet's layout, replacing what it held
 * in one rename. Keys are plain names (no `/`), as in a Secret.
 */
export async function writeVolumeFiles(
  dir: string,
  files: Readonly<Record<string, Buffer | string>>,
  mode = 0o644,
): Promise<void> {
  for (const key of Object.keys(files)) {
    if (key.includes("/") || key.startsWith("..") || key === "")
      throw new Error(`bad key ${JSON.stringify(key)}`);
  }
  await mkdir(dir, { recursive: true });
  const previous = await readlink(join(dir, DATA_LINK)).catch(() => undefined);

  const folder = timestampedName();
  await mkdir(join(dir, folder), { mode: 0o755 });
  for (const [key, content] of Object.entries(files)) {
    const file = join(dir, folder, key);
    await writeFile(file, content);
    await chmod(file, mode);
  }
  const temporaryLink = join(dir, `${DATA_LINK}_tmp`);
  await rm(temporaryLink, { force: true });
  await symlink(folder, temporaryLink);
  await rename(temporaryLink, join(dir, DATA_LINK));

  const wanted = new Set(Object.keys(files));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith("..")) continue;
    if (!wanted.has(entry)) await rm(join(dir, entry), { force: true });
  }
  for (const key of wanted) {
    await symlink(join(DATA_LINK, key), join(dir, key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
  if (previous && previous !== folder) await rm(join(dir, previous), { recursive: true, force: true });
}

export interface SecretMirror {
  /** How many times the folder was written (the first write included). */
  writes(): number;
  stop(): void;
}

interface SecretBody {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

/**
 * Writes the Secret NAMESPACE/NAME into `dir` now, and again whenever it changes, checking every
 * `intervalMs` (the kubelet checks about once a minute; tests want it sooner). Rejects if the Secret
 * cannot be read the first time; later read errors keep the files as they are.
 */
export async function mirrorSecret(
  cp: ControlPlane,
  namespace: string,
  name: string,
  dir: string,
  intervalMs = 1_000,
): Promise<SecretMirror> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  let written = 0;
  let lastVersion = "";
  const sync = async () => {
    const { status, body } = await cp.get(path);
    if (status !== 200) throw new Error(`GET Secret ${namespace}/${name} answered ${status}`);
    const secret = JSON.parse(body) as SecretBody;
    const version = secret.metadata?.resourceVersion ?? "";
    if (version === lastVersion) return;
    const files = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64")]),
    );
    await writeVolumeFiles(dir, files);
    lastVersion = version;
    written += 1;
  };
  await sync();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    sync()
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return { writes: () => written, stop: () => clearInterval(timer) };
}
