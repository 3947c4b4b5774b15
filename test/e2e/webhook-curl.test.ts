import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { admissionRequest, deployment, review } from "../../src/admission/review-fixtures.js";
import { templateRevision } from "../../src/contract/revision.js";

const run = promisify(execFile);
const SERIN = resolve(import.meta.dirname, "../../src/cli/main.js");

/** `serin webhook` as an operator runs it, answered through the real curl with only ca.crt trusted. */
describe("serin webhook over HTTPS", () => {
  let certDir: string;
  let webhook: ChildProcess;
  let port: number;

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), "serin-webhook-"));
    webhook = spawn(process.execPath, [SERIN, "webhook", "--listen", "127.0.0.1:0", "--cert-dir", certDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    port = await new Promise<number>((resolvePort, reject) => {
      const lines = createInterface({ input: webhook.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "webhook listening" && entry.port) resolvePort(entry.port);
      });
      webhook.once("exit", (code) => reject(new Error(`serin webhook exited with ${code}`)));
    });
  });

  after(async () => {
    webhook.kill("SIGTERM");
    await rm(certDir, { recursive: true, force: true });
  });

  const curl = (path: string, args: string[] = []) =>
    run("curl", [
      "-sS",
      "--fail-with-body",
      "--cacert",
      join(certDir, "ca.crt"),
      ...args,
      `https://localhost:${port}${path}`,
    ]);

  test("an empty cert dir gets ca.crt, tls.crt and tls.key", async () => {
    for (const file of ["ca.crt", "tls.crt", "tls.key"]) {
      assert.match(await readFile(join(certDir, file), "utf8"), /-----BEGIN /);
    }
  });

  test("curl trusting ca.crt POSTs an AdmissionReview and gets the documented patch", async () => {
    const v2 = deployment({ image: "registry.example/web:2.0.0" });
    const request = admissionRequest("UPDATE", v2, deployment());
    const { stdout } = await curl("/mutate", [
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      JSON.stringify(review(request)),
    ]);
    const answer = JSON.parse(stdout) as {
      response: { uid: string; allowed: boolean; patchType: string; patch: string; warnings: string[] };
    };
    assert.equal(answer.response.uid, request.uid);
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, "JSONPatch");
    const operations = JSON.parse(Buffer.from(answer.response.patch, "base64").toString()) as {
      op: string;
      path: string;
      value: unknown;
    }[];
    const set = Object.fromEntries(operations.map((operation) => [operation.path, operation.value]));
    const revision = templateRevision(v2.spec?.template);
    assert.equal(set["/metadata/annotations/serin.dev~1pending-revision"], revision);
    assert.equal(set["/metadata/labels/serin.dev~1phase"], "Pending", "the phase is a label");
    assert.equal(set["/spec/template/spec/containers/0/image"], "registry.example/web:1.0.0");
    assert.match(answer.response.warnings[0] ?? "", new RegExp(`revision ${revision} held back`));
  });

  test("health, readiness and metrics are served", async () => {
    assert.equal((await curl("/healthz")).stdout, "ok");
    assert.equal((await curl("/readyz")).stdout, "ok");
    assert.match((await curl("/metrics")).stdout, /serin_admission_requests_total\{outcome="patched"\}/);
  });

  test("a client that does not trust the CA is refused", async () => {
    await assert.rejects(run("curl", ["-sS", `https://localhost:${port}/healthz`]), /certificate|SSL/i);
  });
});
