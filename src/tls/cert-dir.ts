import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import { CERT_FILES, type CertificateSet, generateCertificates } from "./certs.js";

/**
 * Writes a new file beside `path` and renames it over `path`: readers see the old file or the new
 * one, never half of either; the mode is `mode` whatever the umask or an older file said; and a
 * symlink at `path` is replaced itself, never written through (rename acts on the name, and the
 * temporary file is created exclusively, so nothing planted at its name is followed either).
 */
async function writeFileAtomically(path: string, data: string, mode: number): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const file = await open(temporary, "wx", mode);
  try {
    await file.chmod(mode);
    await file.writeFile(data);
    await file.sync();
    await file.close();
    await rename(temporary, path);
  } catch (error) {
    await file.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  // The rename itself is durable once the directory is.
  const directory = await open(dirname(path), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** ca.crt and tls.crt readable by all (0644), tls.key by its owner only (0600). */
export async function writeCertificates(dir: string, set: CertificateSet): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomically(join(dir, CERT_FILES.caCert), set.caCert, 0o644);
  await writeFileAtomically(join(dir, CERT_FILES.tlsKey), set.tlsKey, 0o600);
  await writeFileAtomically(join(dir, CERT_FILES.tlsCert), set.tlsCert, 0o644);
}

export interface ServingPair {
  cert: string;
  key: string;
}

async function readPair(dir: string): Promise<ServingPair> {
  const [cert, key] = await Promise.all([
    readFile(join(dir, CERT_FILES.tlsCert), "utf8"),
    readFile(join(dir, CERT_FILES.tlsKey), "utf8"),
  ]);
  return { cert, key };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The serving pair from DIR; when DIR holds none, a new CA and serving certificate are written there first. */
export async function loadOrCreateCertificates(
  dir: string,
  names: string[],
  logger: Logger,
): Promise<ServingPair> {
  const hasCert = await exists(join(dir, CERT_FILES.tlsCert));
  const hasKey = await exists(join(dir, CERT_FILES.tlsKey));
  if (hasCert !== hasKey) {
    throw new Error(
      `${dir} holds only one of ${CERT_FILES.tlsCert} and ${CERT_FILES.tlsKey}; add the other or empty the folder`,
    );
  }
  if (!hasCert) {
    logger.info({ dir, names }, "no serving certificate found: generating a CA and a serving certificate");
    await writeCertificates(dir, generateCertificates({ names }));
  }
  return readPair(dir);
}

/**
 * Throws unless `pair.key` is the private key of `pair.cert`: the two files are read one after the
 * other, and a Secret volume swapped in between gives one old and one new.
 */
export function assertPairMatches(pair: ServingPair): void {
  if (!new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key))) {
    throw new Error(`${CERT_FILES.tlsKey} is not the key of ${CERT_FILES.tlsCert}`);
  }
}

/**
 * Calls onChange with the new pair whenever tls.crt or tls.key changes on disk (a rotated Secret, a
 * cert-manager renewal). Polls what the names resolve to (stat follows the symlinks of a Secret
 * volume, whose update swaps `..data` to a new folder of new files): fs.watch misses those swaps. A
 * pair whose key does not match its certificate is not handed out; the next poll reads again.
 */
export function watchCertificates(
  dir: string,
  onChange: (pair: ServingPair) => void,
  logger: Logger,
  intervalMs = 2_000,
): () => void {
  let last = "";
  const fingerprint = async () => {
    const stats = await Promise.all([
      stat(join(dir, CERT_FILES.tlsCert)),
      stat(join(dir, CERT_FILES.tlsKey)),
    ]);
    return stats.map((entry) => `${entry.mtimeMs}:${entry.size}:${entry.ino}`).join("|");
  };
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const current = await fingerprint();
      if (last && current !== last) {
        const pair = await readPair(dir);
        assertPairMatches(pair);
        onChange(pair);
        logger.info({ dir }, "serving certificate reloaded");
      }
      last = current;
    } catch (error) {
      logger.warn({ err: error, dir }, "could not read the serving certificate; keeping the current one");
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
