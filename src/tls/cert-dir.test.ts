import assert from "node:assert/strict";
import {
  lstat,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { pino } from "pino";
import { waitFor } from "../localcluster/processes.js";
import { writeVolumeFiles } from "../localcluster/secret-volume.js";
import {
  loadOrCreateCertificates,
  type ServingPair,
  watchCertificates,
  writeCertificates,
} from "./cert-dir.js";
import { CERT_FILES, type CertificateSet, generateCertificates } from "./certs.js";

/** What `serin certs --out DIR` writes, over whatever DIR already holds. */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "serin-cert-files-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const set = generateCertificates({ names: ["serin.serin-system.svc"] });
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

test("an existing key file readable by all becomes 0600 when written over", async () => {
  const key = join(dir, CERT_FILES.tlsKey);
  await writeFile(key, "old key", { mode: 0o644 });
  await writeFile(join(dir, CERT_FILES.tlsCert), "old cert", { mode: 0o666 });
  await writeCertificates(dir, set);
  assert.equal(await modeOf(key), 0o600);
  assert.equal(await readFile(key, "utf8"), set.tlsKey);
  assert.equal(await modeOf(join(dir, CERT_FILES.tlsCert)), 0o644);
  assert.equal(await modeOf(join(dir, CERT_FILES.caCert)), 0o644);
});

test("the key is 0600 whatever the umask", async () => {
  const previous = process.umask(0o000);
  try {
    await writeCertificates(dir, set);
  } finally {
    process.umask(previous);
  }
  assert.equal(await modeOf(join(dir, CERT_FILES.tlsKey)), 0o600);
});

test("a symlinked tls.key is replaced by a file; the file it pointed to is left untouched", async () => {
  const elsewhere = await mkdtemp(join(tmpdir(), "serin-link-target-"));
  try {
    const target = join(elsewhere, "important");
    await writeFile(target, "someone else's file", { mode: 0o644 });
    const key = join(dir, CERT_FILES.tlsKey);
    await symlink(target, key);
    await writeCertificates(dir, set);
    assert.equal(await readFile(target, "utf8"), "someone else's file");
    assert.equal(await modeOf(target), 0o644);
    assert.equal((await lstat(key)).isSymbolicLink(), false);
    assert.equal(await readFile(key, "utf8"), set.tlsKey);
    await assert.rejects(readlink(key));
  } finally {
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test("files are replaced whole, not rewritten in place, and no temporary file is left", async () => {
  await writeCertificates(dir, set);
  const key = join(dir, CERT_FILES.tlsKey);
  // A reader that opened the old key (a server reloading it) still reads all of the old key.
  const reader = await open(key, "r");
  try {
    const next = generateCertificates({ names: ["serin.serin-system.svc"] });
    await writeCertificates(dir, next);
    assert.equal(await reader.readFile("utf8"), set.tlsKey);
    assert.equal(await readFile(key, "utf8"), next.tlsKey);
  } finally {
    await reader.close();
  }
  assert.deepEqual((await readdir(dir)).sort(), ["ca.crt", "tls.crt", "tls.key"]);
});

/** A Secret volume's files for `certs`, as the kubelet lays them out. */
const volumeFiles = (certs: CertificateSet) => ({
  [CERT_FILES.caCert]: certs.caCert,
  [CERT_FILES.tlsCert]: certs.tlsCert,
  [CERT_FILES.tlsKey]: certs.tlsKey,
});

function watchInto(pairs: ServingPair[], warnings: string[]): () => void {
  const logger = pino(
    { level: "warn" },
    {
      write(line: string) {
        warnings.push(line);
      },
    },
  );
  return watchCertificates(dir, (pair) => pairs.push(pair), logger, 20);
}

test("a renewal written into a Secret volume (the ..data symlink swap) is served without a restart", async () => {
  await writeVolumeFiles(dir, volumeFiles(set));
  assert.equal((await lstat(join(dir, CERT_FILES.tlsCert))).isSymbolicLink(), true);
  const logger = pino({ level: "silent" });
  const first = await loadOrCreateCertificates(dir, ["serin.serin-system.svc"], logger);
  assert.equal(first.cert, set.tlsCert, "the mounted pair is used, nothing is generated");

  const pairs: ServingPair[] = [];
  const warnings: string[] = [];
  const stop = watchInto(pairs, warnings);
  try {
    await new Promise((resolve) => setTimeout(resolve, 60)); // the watcher has seen the first files
    const renewed = generateCertificates({ names: ["serin.serin-system.svc"] });
    await writeVolumeFiles(dir, volumeFiles(renewed));
    await waitFor(async () => (pairs.length > 0 ? true : undefined), {
      timeoutMs: 2_000,
      what: "the renewed pair",
    });
    assert.deepEqual(pairs, [{ cert: renewed.tlsCert, key: renewed.tlsKey }]);
    assert.deepEqual(warnings, []);
  } finally {
    stop();
  }
});

test("a certificate and a key that do not belong together are never handed out; the next matching pair is", async () => {
  await writeVolumeFiles(dir, volumeFiles(set));
  const pairs: ServingPair[] = [];
  const warnings: string[] = [];
  const stop = watchInto(pairs, warnings);
  try {
    await new Promise((resolve) => setTimeout(resolve, 60));
    // What a read between the two files of a swap sees: the new certificate with the old key.
    const renewed = generateCertificates({ names: ["serin.serin-system.svc"] });
    await writeVolumeFiles(dir, { ...volumeFiles(renewed), [CERT_FILES.tlsKey]: set.tlsKey });
    await waitFor(async () => (warnings.length > 0 ? true : undefined), {
      timeoutMs: 2_000,
      what: "the mismatch to be noticed",
    });
    assert.deepEqual(pairs, []);
    assert.match(warnings[0] ?? "", /tls\.key is not the key of tls\.crt/);

    await writeVolumeFiles(dir, volumeFiles(renewed));
    await waitFor(async () => (pairs.length > 0 ? true : undefined), {
      timeoutMs: 2_000,
      what: "the matching pair",
    });
    assert.deepEqual(pairs, [{ cert: renewed.tlsCert, key: renewed.tlsKey }]);
  } finally {
    stop();
  }
});
