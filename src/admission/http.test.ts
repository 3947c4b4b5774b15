import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { type AdmissionLimits, createAdmissionListener } from "./http.js";
import { createWebhookMetrics } from "./metrics.js";
import { mutateDeployment } from "./mutate.js";
import type { AdmissionRequest, AdmissionResponse } from "./review.js";
import { admissionRequest, deployment, review } from "./review-fixtures.js";

interface Answered {
  apiVersion: string;
  kind: string;
  response: AdmissionResponse & { patch: string; status: { code: number; message: string } };
}

const answer = async (res: Response) => (await res.json()) as Answered;

describe("webhook HTTP layer", () => {
  let server: Server;
  let base: string;
  const registry = new Registry();

  before(async () => {
    const listener = createAdmissionListener({
      handler: (request: AdmissionRequest) => {
        if (request.name === "explode") throw new Error("boom");
        return mutateDeployment(request);
      },
      logger: pino({ level: "silent" }),
      registry,
      metrics: createWebhookMetrics(registry),
    });
    server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (body: string, contentType = "application/json") =>
    fetch(`${base}/mutate`, { method: "POST", body, headers: { "content-type": contentType } });

  test("a valid review is answered with the uid echoed and a base64 JSON patch", async () => {
    const request = admissionRequest("UPDATE", deployment({ image: "web:2" }), deployment());
    const res = await post(JSON.stringify(review(request)));
    assert.equal(res.status, 200);
    const body = await answer(res);
    assert.equal(body.apiVersion, "admission.k8s.io/v1");
    assert.equal(body.kind, "AdmissionReview");
    assert.equal(body.response.uid, request.uid);
    assert.equal(body.response.allowed, true);
    assert.equal(body.response.patchType, "JSONPatch");
    const operations = JSON.parse(Buffer.from(body.response.patch, "base64").toString());
    assert.ok(operations.some((op: { path: string }) => op.path.includes("pending-template")));
  });

  test("a v1beta1 review is answered in v1beta1", async () => {
    const request = admissionRequest("CREATE", deployment({ tracked: false }));
    const res = await post(JSON.stringify(review(request, "admission.k8s.io/v1beta1")));
    assert.equal((await answer(res)).apiVersion, "admission.k8s.io/v1beta1");
  });

  test("a body that is not JSON gets 400 inside an AdmissionReview", async () => {
    const res = await post("{not json");
    assert.equal(res.status, 400);
    const body = await answer(res);
    assert.equal(body.kind, "AdmissionReview");
    assert.equal(body.response.allowed, false);
    assert.match(body.response.status.message, /not valid JSON/);
  });

  test("a wrong content type gets 400 that names it", async () => {
    const res = await post("{}", "text/plain");
    assert.equal(res.status, 400);
    assert.match(
      (await answer(res)).response.status.message,
      /Content-Type must be application\/json, not "text\/plain"/,
    );
  });

  test("a malformed review gets 400 with its uid echoed", async () => {
    const res = await post(
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { uid: "abc-123" },
      }),
    );
    assert.equal(res.status, 400);
    const body = await answer(res);
    assert.equal(body.response.uid, "abc-123");
    assert.match(body.response.status.message, /request\.kind is missing/);
  });

  test("a body over 3 MiB gets 413", async () => {
    const request = admissionRequest(
      "CREATE",
      deployment({ annotations: { huge: "x".repeat(3 * 1024 * 1024) } }),
    );
    const res = await post(JSON.stringify(review(request)));
    assert.equal(res.status, 413);
    assert.match((await answer(res)).response.status.message, /larger than 3 MiB/);
  });

  test("a chunked body that grows past 3 MiB gets 413 too", async () => {
    const chunk = new TextEncoder().encode(`"${"x".repeat(1024 * 1024)}",`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode("["));
        if (sent++ < 4) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${base}/mutate`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      duplex: "half",
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal((await answer(res)).kind, "AdmissionReview");
  });

  test("a failing handler is answered inside the review, never as a bare 500", async () => {
    const request = admissionRequest("CREATE", deployment({ name: "explode" }));
    const res = await post(JSON.stringify(review(request)));
    assert.equal(res.status, 200);
    const body = await answer(res);
    assert.equal(body.response.uid, request.uid);
    assert.equal(body.response.allowed, false);
    assert.equal(body.response.status.code, 500);
    assert.match(body.response.status.message, /internal error: boom/);
  });

  test("health, readiness and metrics answer; metrics count outcomes", async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /serin_admission_requests_total\{outcome="patched"\} [1-9]/);
    assert.match(metrics, /serin_admission_requests_total\{outcome="invalid"\} [1-9]/);
    assert.match(metrics, /serin_admission_requests_total\{outcome="errored"\} 1/);
    assert.match(metrics, /serin_admission_duration_seconds_bucket/);
  });
});

/** The endpoint with small limits, its log lines captured. */
async function limitedServer(limits: Partial<AdmissionLimits>) {
  const lines: { msg: string; message?: string; outcome?: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const registry = new Registry();
  const server = createServer(
    createAdmissionListener({
      handler: (request) => mutateDeployment(request),
      logger: pino({ level: "info" }, stream),
      registry,
      metrics: createWebhookMetrics(registry),
      limits,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, lines, port: (server.address() as AddressInfo).port };
}

/** A POST whose body is sent only as far as `sent`, then stalls; resolves with the answer, if any. */
function stalledPost(port: number, sent: Buffer, declared: number) {
  const request = httpRequest({
    host: "127.0.0.1",
    port,
    path: "/mutate",
    method: "POST",
    headers: { "content-type": "application/json", "content-length": declared },
  });
  const answered = new Promise<{ status: number; body: Answered; closed: Promise<void> }>(
    (resolve, reject) => {
      request.on("response", (res) => {
        const chunks: Buffer[] = [];
        const closed = new Promise<void>((done) => res.socket.once("close", () => done()));
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
            closed,
          }),
        );
      });
      request.on("error", reject);
    },
  );
  request.write(sent);
  return { request, answered };
}

describe("webhook HTTP layer under abuse", () => {
  const post = (port: number, body: unknown) =>
    fetch(`http://127.0.0.1:${port}/mutate`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });

  test("a JSON number for serin.dev/steps is denied naming the key, not answered as an internal error", async () => {
    const { server, port } = await limitedServer({});
    try {
      const object = deployment({ annotations: { "serin.dev/steps": 10 as unknown as string } });
      const res = await post(port, review(admissionRequest("CREATE", object)));
      assert.equal(res.status, 200);
      const { response } = await answer(res);
      assert.equal(response.allowed, false);
      assert.equal(response.status.code, 422);
      assert.match(response.status.message, /serin\.dev\/steps="10" is a number, not a string; allowed:/);
      assert.doesNotMatch(response.status.message, /internal error|is not a function/);
    } finally {
      server.close();
    }
  });

  test("four 200 kB values give a denial of a few kB that quotes each value once, cut short", async () => {
    const { server, port, lines } = await limitedServer({});
    try {
      const huge = (letter: string) => letter.repeat(200_000);
      const object = deployment({
        annotations: {
          "serin.dev/steps": huge("1"),
          "serin.dev/analysis": huge("a"),
          "serin.dev/tests": huge("t"),
          "serin.dev/step-interval": huge("s"),
        },
      });
      const { response } = await answer(await post(port, review(admissionRequest("CREATE", object))));
      const message = response.status.message;
      assert.ok(message.length < 4_000, `${message.length} characters`);
      for (const [key, letter] of [
        ["steps", "1"],
        ["analysis", "a"],
        ["tests", "t"],
        ["step-interval", "s"],
      ]) {
        const quoted = new RegExp(`${letter}{200}… \\(200000 characters\\)`, "g");
        assert.equal(message.match(quoted)?.length, 1, key);
        assert.match(
          message,
          new RegExp(`serin\\.dev/${key}="${letter}{200}… \\(200000 characters\\)" is 200000 bytes long`),
        );
      }
      const logged = lines.find((line) => line.outcome === "denied");
      assert.ok((logged?.message?.length ?? Number.POSITIVE_INFINITY) < 4_000);
    } finally {
      server.close();
    }
  });

  test("a flood of denials is logged at most 10 lines a second", async () => {
    const { server, port, lines } = await limitedServer({ logLinesPerSecond: 10 });
    try {
      const object = deployment({ annotations: { "serin.dev/steps": "10,5" } });
      const started = Date.now();
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          Array.from({ length: 10 }, () => post(port, review(admissionRequest("CREATE", object)))),
        );
      }
      const seconds = Math.ceil((Date.now() - started) / 1_000);
      const denials = lines.filter((line) => line.outcome === "denied").length;
      assert.ok(denials <= 10 * (seconds + 1), `${denials} denial lines for 200 denials in ${seconds}s`);
      assert.ok(denials >= 10);
    } finally {
      server.close();
    }
  });

  test("a body that stalls is answered 408 inside an AdmissionReview and its connection closed", async () => {
    const { server, port } = await limitedServer({ bodyTimeoutMs: 300 });
    try {
      const { answered } = stalledPost(port, Buffer.from('{"apiVersion":'), 1_000);
      const { status, body, closed } = await answered;
      assert.equal(status, 408);
      assert.equal(body.kind, "AdmissionReview");
      assert.match(body.response.status.message, /request body not received within 0\.3s/);
      await closed;
    } finally {
      server.close();
    }
  });

  test("past the bound on buffered bodies the largest is refused with 503, and a small review is still answered", async () => {
    const { server, port } = await limitedServer({ bufferedBytesMax: 1024 * 1024, bodyTimeoutMs: 5_000 });
    const chunk = Buffer.alloc(300 * 1024, " ");
    const big = stalledPost(port, Buffer.concat([Buffer.from("["), chunk, chunk]), 3 * 1024 * 1024);
    try {
      // Give the server time to read the 600 KiB the big body has sent so far.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const smaller = Array.from({ length: 3 }, () =>
        stalledPost(port, Buffer.concat([Buffer.from("["), chunk]), 3 * 1024 * 1024),
      );
      const refused = await big.answered;
      assert.equal(refused.status, 503);
      assert.equal(refused.body.kind, "AdmissionReview");
      assert.match(
        refused.body.response.status.message,
        /holding more than 1 MiB of request bodies; this 601 KiB body was dropped/,
      );
      const request = admissionRequest("UPDATE", deployment({ image: "web:2" }), deployment());
      const res = await post(port, review(request));
      assert.equal(res.status, 200);
      assert.equal((await answer(res)).response.patchType, "JSONPatch");
      for (const stalled of smaller) {
        stalled.answered.catch(() => undefined);
        stalled.request.destroy();
      }
    } finally {
      big.request.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
