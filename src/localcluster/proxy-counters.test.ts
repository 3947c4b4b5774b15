import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bucketIndex,
  checkBehaviour,
  expositionLines,
  LATENCY_BOUNDS_MS,
  latencyAt,
  type ProxyCounters,
  serve,
} from "./proxy-counters.js";
import { evenDraws, noisyDraws } from "./sampling.js";

const pod = {
  namespace: "shop",
  deployment: "web-canary",
  pod: "web-canary-5597c667f6-model",
  podTemplateHash: "5597c667f6",
  serviceAccount: "default",
  podIp: "10.244.1.7",
  port: 8080,
};

/** The samples of `name` in the exposition, by their label text. */
function samples(lines: string[], name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of lines) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf("}");
    found.set(line.slice(name.length + 1, close), Number(line.slice(close + 2)));
  }
  return found;
}

test("a series appears only once a response with its labels was seen, as in the proxy", () => {
  const counters: ProxyCounters = { requests: 0 };
  assert.deepEqual(expositionLines(counters, pod), [], "no request yet: no series at all");
  serve(counters, { successRatio: 0, latency: { medianMs: 20, p99Ms: 20 } }, 3, evenDraws());
  const lines = expositionLines(counters, pod);
  const responses = samples(lines, "response_total");
  assert.equal(responses.size, 1, "a canary that fails every request has no success series at all");
  assert.match([...responses.keys()][0] ?? "", /status_code="500",classification="failure"/);
  assert.equal([...responses.values()][0], 3);
});

test("the labels are Linkerd's: the proxy's inbound labels and those linkerd-viz's scrape adds", () => {
  const counters: ProxyCounters = { requests: 0 };
  serve(counters, { successRatio: 1, latency: { medianMs: 7, p99Ms: 7 } }, 1, evenDraws());
  const line = expositionLines(counters, pod).find((text) => text.startsWith("response_total{"));
  assert.equal(
    line,
    'response_total{direction="inbound",target_addr="10.244.1.7:8080",target_ip="10.244.1.7",target_port="8080",' +
      'tls="true",client_id="default.shop.serviceaccount.identity.linkerd.cluster.local",srv_group="",' +
      'srv_kind="default",srv_name="all-unauthenticated",srv_port="8080",route_group="",route_kind="default",' +
      'route_name="default",authz_group="",authz_kind="default",authz_name="all-unauthenticated",' +
      'namespace="shop",pod="web-canary-5597c667f6-model",control_plane_ns="linkerd",deployment="web-canary",' +
      'pod_template_hash="5597c667f6",serviceaccount="default",status_code="200",classification="success",' +
      'grpc_status="",error=""} 1',
  );
});

test("counters accumulate whole requests; buckets are cumulative, up to +Inf, and match the count", () => {
  const counters: ProxyCounters = { requests: 0 };
  const behaviour = { successRatio: 0.8, latency: { medianMs: 20, p99Ms: 200 } };
  const draws = evenDraws();
  const first = serve(counters, behaviour, 600, draws);
  const second = serve(counters, behaviour, 400, draws);
  assert.equal(counters.requests, 1_000);
  const failures = first.failures + second.failures;
  // Even draws: the share of failures is the ratio's, give or take the spread of the sequence.
  assert.ok(Math.abs(failures - 200) <= 2, `${failures} failures`);
  const lines = expositionLines(counters, pod);
  assert.equal(samples(lines, "request_total").values().next().value, 1_000);
  const responses = [...samples(lines, "response_total").values()];
  assert.deepEqual(responses, [1_000 - failures, failures]);
  for (const classification of ["success", "failure"]) {
    const buckets = [...samples(lines, "response_latency_ms_bucket").entries()].filter(([labels]) =>
      labels.includes(`classification="${classification}"`),
    );
    assert.equal(buckets.length, LATENCY_BOUNDS_MS.length + 1);
    assert.match(buckets.at(-1)?.[0] ?? "", /le="\+Inf"$/);
    const values = buckets.map(([, value]) => value);
    assert.ok(
      values.every((value, i) => i === 0 || value >= (values[i - 1] ?? 0)),
      "cumulative",
    );
    assert.equal(values.at(-1), classification === "success" ? 1_000 - failures : failures);
  }
  const counts = [...samples(lines, "response_latency_ms_count").values()];
  assert.deepEqual(counts, [1_000 - failures, failures]);
});

test("latencies follow the distribution: half below the median, 1% above the p99", () => {
  const latency = { medianMs: 20, p99Ms: 1_200 };
  const draws = noisyDraws(11);
  const values = Array.from({ length: 20_000 }, () => latencyAt(latency, draws.uniform()));
  const share = (limit: number) => values.filter((value) => value > limit).length / values.length;
  assert.ok(Math.abs(share(20) - 0.5) < 0.015, `above the median: ${share(20)}`);
  assert.ok(Math.abs(share(1_200) - 0.01) < 0.003, `above the p99: ${share(1_200)}`);
  assert.equal(latencyAt({ medianMs: 40, p99Ms: 40 }, 0.999), 40, "median = p99 is a constant");
});

test("a response counts in the first bucket whose bound holds it; past 50 s it is only in +Inf", () => {
  assert.equal(bucketIndex(0.4), 0);
  assert.equal(bucketIndex(1), 0);
  assert.equal(bucketIndex(1.01), 1);
  assert.equal(LATENCY_BOUNDS_MS[bucketIndex(499)], 500);
  assert.equal(LATENCY_BOUNDS_MS[bucketIndex(500)], 500);
  assert.equal(bucketIndex(60_000), LATENCY_BOUNDS_MS.length);
});

test("serving reports failures, slow responses and where the first of each arrived", () => {
  const counters: ProxyCounters = { requests: 0 };
  const served = serve(
    counters,
    { successRatio: 0.5, latency: { medianMs: 10, p99Ms: 1_000 } },
    500,
    noisyDraws(3),
    500,
  );
  assert.ok(served.failures > 200 && served.failures < 300, `${served.failures} failures`);
  assert.ok(served.slow > 0 && served.slow < 20, `${served.slow} slow`);
  for (const position of [served.first, served.firstFailure, served.firstSlow]) {
    assert.ok(position !== undefined && position >= 0 && position < 1);
  }
  assert.ok((served.first ?? 1) <= (served.firstFailure ?? 0));
  assert.deepEqual(serve(counters, { successRatio: 1, latency: { medianMs: 1, p99Ms: 1 } }, 0, evenDraws()), {
    failures: 0,
    slow: 0,
  });
  assert.throws(
    () => serve(counters, { successRatio: 1, latency: { medianMs: 1, p99Ms: 1 } }, 1.5, evenDraws()),
    /whole number/,
  );
});

test("a behaviour out of range is refused with what is wrong", () => {
  assert.throws(
    () => checkBehaviour({ successRatio: 1.2, latency: { medianMs: 1, p99Ms: 1 } }),
    /successRatio must be within 0..1, got 1.2/,
  );
  assert.throws(
    () => checkBehaviour({ successRatio: 1, latency: { medianMs: 50, p99Ms: 10 } }),
    /0 < medianMs <= p99Ms, got median 50 and p99 10/,
  );
});
