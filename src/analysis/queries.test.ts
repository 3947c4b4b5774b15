import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAnalysis } from "../contract/analysis.js";
import {
  analysisWindowMs,
  builtinQuery,
  evidenceQueries,
  judge,
  promqlDuration,
  queryFor,
  renderTemplate,
} from "./queries.js";

const scope = { namespace: "shop", deployment: "web-canary", service: "web", windowMs: 30_000 };

function checks(text: string) {
  const parsed = parseAnalysis(text);
  assert.ok(parsed.ok);
  return parsed.value;
}

test("the built-ins read Linkerd's inbound proxy metrics of the canary Deployment", () => {
  assert.equal(
    builtinQuery("success-rate", scope),
    '100 * (sum(rate(response_total{namespace="shop",deployment="web-canary",direction="inbound",classification!="failure"}[30s])) or vector(0))' +
      ' / sum(rate(response_total{namespace="shop",deployment="web-canary",direction="inbound"}[30s]))',
  );
  assert.equal(
    builtinQuery("latency-p99", scope),
    'histogram_quantile(0.99, sum by (le) (rate(response_latency_ms_bucket{namespace="shop",deployment="web-canary",direction="inbound"}[30s])))',
  );
});

test("a platform team's template gets the canary's names and the window; a template overrides a built-in", () => {
  const templates = new Map([
    [
      "error-budget",
      'sum(rate(errors{ns="{{ namespace }}",app="{{deployment}}"}[{{ interval }}])) {{ unknown }}',
    ],
  ]);
  const [check] = checks("error-budget<=0.5");
  assert.equal(
    queryFor(check as never, scope, templates),
    'sum(rate(errors{ns="shop",app="web-canary"}[30s])) {{ unknown }}',
  );
  assert.equal(renderTemplate("{{service}}", scope), "web");
});

test("values are judged against thresholds; no data is inconclusive, not a failure", () => {
  const [rate, latency] = checks("success-rate>=99,latency-p99<=500ms");
  assert.deepEqual(judge(rate as never, 99.5), { result: "pass", value: 99.5 });
  assert.deepEqual(judge(rate as never, 91.234), {
    result: "fail",
    value: 91.234,
    reason: "success-rate 91.23%, wanted success-rate>=99",
  });
  assert.equal(judge(latency as never, 700).result, "fail");
  assert.match(
    judge(latency as never, 700).result === "fail"
      ? (judge(latency as never, 700) as { reason: string }).reason
      : "",
    /latency-p99 700ms/,
  );
  assert.equal(judge(rate as never, undefined).result, "inconclusive");
  assert.equal(judge(rate as never, Number.NaN).result, "inconclusive");
});

test("the counts a failing built-in is weighed on: requests and failures, or the buckets by le", () => {
  assert.deepEqual(evidenceQueries("success-rate", scope), {
    requests:
      'sum(increase(response_total{namespace="shop",deployment="web-canary",direction="inbound"}[30s]))',
    failed:
      'sum(increase(response_total{namespace="shop",deployment="web-canary",direction="inbound",classification="failure"}[30s]))',
  });
  assert.deepEqual(evidenceQueries("latency-p99", scope), {
    buckets:
      'sum by (le) (increase(response_latency_ms_bucket{namespace="shop",deployment="web-canary",direction="inbound"}[30s]))',
  });
  assert.equal(evidenceQueries("error-budget", scope), undefined);
});

test("a check's window is its interval plus one scrape interval, written as PromQL accepts it", () => {
  assert.equal(analysisWindowMs(15_000, 10_000), 25_000);
  assert.equal(analysisWindowMs(2_000, 500), 2_500);
  assert.equal(promqlDuration(25_000), "25s");
  assert.equal(promqlDuration(2_500), "2s500ms", "PromQL refuses 2.5s");
  assert.equal(promqlDuration(90_000), "1m30s");
  assert.equal(promqlDuration(3_600_000 + 1), "1h1ms");
  assert.equal(builtinQuery("latency-p99", { ...scope, windowMs: 2_500 })?.includes("[2s500ms]"), true);
});
