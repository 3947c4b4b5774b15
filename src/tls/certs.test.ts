import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "node:tls";
import { pino } from "pino";
import { loadOrCreateCertificates, watchCertificates } from "./cert-dir.js";
import { CERT_FILES, generateCertificates } from "./certs.js";

const silent = pino({ level: "silent" });

/** Connects with Node's own TLS, trusting only `ca`, and reports whether the chain and name verified. */
function handshake(
  port: number,
  ca: string,
  servername: string,
  host = "127.0.0.1",
): Promise<{ ok: boolean; error?: string; serial?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, ca, servername, rejectUnauthorized: true }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve({ ok: true, serial });
    });
    socket.on("error", (error) => resolve({ ok: false, error: error.message }));
  });
}

async function serve(cert: string, key: string) {
  const server = createServer({ cert, key }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

test("a client trusting only ca.crt connects by DNS name and by IP; a wrong name or another CA fails", async () => {
  const set = generateCertificates({ names: ["serin.serin-system.svc", "127.0.0.1"] });
  const { server, port } = await serve(set.tlsCert, set.tlsKey);
  try {
    assert.deepEqual((await handshake(port, set.caCert, "serin.serin-system.svc")).ok, true);
    const byIp = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port, ca: set.caCert, rejectUnauthorized: true }, () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    assert.equal(byIp, true, "the IP SAN verifies");
    const wrongName = await handshake(port, set.caCert, "other.serin-system.svc");
    assert.equal(wrongName.ok, false);
    assert.match(wrongName.error ?? "", /does not match|altnames/i);
    const otherCa = generateCertificates({ names: ["x"] }).caCert;
    assert.equal((await handshake(port, otherCa, "serin.serin-system.svc")).ok, false);
  } finally {
    server.close();
  }
});

test("certificates are SHA-256, with distinct serials and the right roles", () => {
  const set = generateCertificates({ names: ["a.example", "10.0.0.1"] });
  const ca = new X509Certificate(set.caCert);
  const serving = new X509Certificate(set.tlsCert);
  assert.equal(ca.ca, true);
  assert.equal(serving.ca, false);
  assert.ok(serving.checkIssued(ca));
  assert.ok(serving.verify(ca.publicKey));
  assert.notEqual(ca.serialNumber, serving.serialNumber);
  assert.equal(serving.subjectAltName, "DNS:a.example, IP Address:10.0.0.1");
  assert.equal(serving.checkHost("a.example"), "a.example");
  assert.equal(serving.checkIP("10.0.0.1"), "10.0.0.1");
  // Node does not expose the signature algorithm; forge writes it as sha256WithRSAEncryption's OID.
  assert.ok(serving.raw.includes(Buffer.from("2a864886f70d01010b", "hex")));
});

test("an empty cert dir gets a generated CA and serving certificate; new files on disk are picked up", async () => {
  const dir = await mkdtemp(join(tmpdir(), "serin-certs-"));
  try {
    const first = await loadOrCreateCertificates(dir, ["localhost", "127.0.0.1"], silent);
    const again = await loadOrCreateCertificates(dir, ["localhost"], silent);
    assert.equal(again.cert, first.cert, "existing files are reused, not regenerated");

    const { server, port } = await serve(first.cert, first.key);
    const seen: string[] = [];
    const stop = watchCertificates(
      dir,
      (pair) => {
        server.setSecureContext(pair);
        seen.push(pair.cert);
      },
      silent,
      50,
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 120));
      const rotated = generateCertificates({ names: ["localhost", "127.0.0.1"] });
      await writeFile(join(dir, CERT_FILES.tlsKey), rotated.tlsKey);
      await writeFile(join(dir, CERT_FILES.tlsCert), rotated.tlsCert);
      for (let i = 0; i < 100 && !seen.includes(rotated.tlsCert); i++)
        await new Promise((r) => setTimeout(r, 20));
      const result = await handshake(port, rotated.caCert, "localhost");
      assert.equal(result.ok, true, result.error);
      assert.equal(result.serial, new X509Certificate(rotated.tlsCert).serialNumber);
    } finally {
      stop();
      server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
