import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createAdmissionListener } from "./http.js";
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
