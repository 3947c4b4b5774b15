import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { pino } from "pino";
import { Registry } from "prom-client";
import { LEGACY_DEPLOYMENT_ANNOTATIONS, PendingKey, UserKey } from "../contract/keys.js";
import { ANNOTATION_VALUE_MAX_BYTES, FAILURE_LIMIT_MAX, parseCanarySpec } from "../contract/spec.js";
import { createAdmissionListener } from "./http.js";
import { createWebhookMetrics } from "./metrics.js";
import { mutateDeployment } from "./mutate.js";
import type { AdmissionResponse } from "./review.js";
import { admissionRequest, deployment, review } from "./review-fixtures.js";

/**
 * Whatever JSON anyone sends in a `serin.dev/*` annotation, through the real request handler: the
 * answer is never a 5xx, and what is admitted never carries a number that is not finite and in range.
 */
const KEYS = [...Object.values(UserKey), ...Object.values(PendingKey), ...LEGACY_DEPLOYMENT_ANNOTATIONS];

const DAY_MS = 24 * 3_600_000;

const digits = fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 400 });
/** Strings close to valid ones, where overflow and bounds live. */
const nearlyValid = fc.oneof(
  fc.tuple(digits, fc.constantFrom("ns", "us", "ms", "s", "m", "h", "")).map(([n, unit]) => `${n}${unit}`),
  fc
    .tuple(fc.constantFrom("success-rate>=", "latency-p99<=", "error-rate<=", "error-rate>="), digits)
    .map(([check, n]) => check + n),
  fc.tuple(digits, fc.constantFrom("ms", "s", "h")).map(([n, unit]) => `latency-p99<=${n}${unit}`),
  fc
    .array(fc.oneof(digits, fc.constant("pause")), { minLength: 1, maxLength: 6 })
    .map((steps) => steps.join(",")),
  fc.constantFrom("10,25,50", "1m", "24h", "24h1s", "100", "101", "promote", "http://smoke/run"),
  fc.webUrl(),
);
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.string({ minLength: ANNOTATION_VALUE_MAX_BYTES - 8, maxLength: ANNOTATION_VALUE_MAX_BYTES * 3 }),
  fc.double(),
  nearlyValid,
);

let server: Server;
let base = "";
before(async () => {
  const registry = new Registry();
  server = createServer(
    createAdmissionListener({
      handler: (request) => mutateDeployment(request),
      logger: pino({ level: "silent" }),
      registry,
      metrics: createWebhookMetrics(registry),
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function assertAdmissible(annotations: Record<string, unknown>): void {
  for (const key of Object.values(UserKey)) {
    const value = annotations[key];
    if (value === undefined) continue;
    assert.equal(typeof value, "string", `${key} admitted as ${typeof value}`);
    assert.ok(Buffer.byteLength(value as string) <= ANNOTATION_VALUE_MAX_BYTES, `${key} admitted over 4 KiB`);
  }
  const parsed = parseCanarySpec(annotations as Record<string, string>, "web", { namespace: "shop" });
  assert.ok(parsed.ok, "admitted, yet the watcher could not read it");
  const { spec } = parsed;
  for (const ms of [spec.stepIntervalMs, spec.analysisIntervalMs, spec.progressDeadlineMs]) {
    assert.ok(Number.isInteger(ms) && ms >= 1_000 && ms <= DAY_MS, `duration ${ms} admitted`);
  }
  assert.ok(Number.isInteger(spec.failureLimit) && spec.failureLimit <= FAILURE_LIMIT_MAX);
  for (const check of spec.analysis) assert.ok(Number.isFinite(check.threshold), check.text);
  for (const step of spec.steps) {
    if (step.kind === "weight")
      assert.ok(Number.isInteger(step.weight) && step.weight > 0 && step.weight <= 10_000);
  }
}

test("any JSON in any serin.dev/* annotation: never a 5xx, never an admitted non-finite or unbounded value", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.dictionary(fc.constantFrom(...KEYS), anyValue, { minKeys: 1, maxKeys: 4 }),
      fc.boolean(),
      async (annotations, newRevision) => {
        const object = deployment({ annotations: annotations as Record<string, string> });
        const request = newRevision
          ? admissionRequest(
              "UPDATE",
              deployment({ annotations: annotations as Record<string, string>, image: "web:2" }),
              object,
            )
          : admissionRequest("CREATE", object);
        const res = await fetch(`${base}/mutate`, {
          method: "POST",
          body: JSON.stringify(review(request)),
          headers: { "content-type": "application/json" },
        });
        assert.equal(res.status, 200);
        const { response } = (await res.json()) as { response: AdmissionResponse };
        assert.equal(response.uid, request.uid);
        if (!response.allowed) {
          assert.ok((response.status?.code ?? 0) < 500, response.status?.message);
          assert.ok((response.status?.message.length ?? 0) < 8_000, "denial bounded");
          return;
        }
        // What the apiserver stores is what was sent (JSON has no NaN or Infinity; a double became null).
        assertAdmissible(JSON.parse(JSON.stringify(annotations)));
        for (const warning of response.warnings ?? []) assert.doesNotMatch(warning, /Infinity|NaN/);
      },
    ),
    { numRuns: 400 },
  );
});
