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
import { writeCertificates } from "./cert-dir.js";
import { CERT_FILES, generateCertificates } from "./certs.js";

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
