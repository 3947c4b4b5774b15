import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAnalysis } from "../contract/analysis.js";
import { allowedBadShare, binomialTailAtLeast, convincing, slowRequests, weigh } from "./evidence.js";

const [successRate, latency] = (() => {
  const parsed = parseAnalysis("success-rate>=99,latency-p99<=500ms");
  assert.ok(parsed.ok);
  return parsed.value;
})() as [never, never];

test("binomial tails match exact values, small and large", () => {
  // P(X >= 1 | 15, 0.01) = 1 - 0.99^15
  assert.ok(Math.abs(binomialTailAtLeast(15, 1, 0.01) - (1 - 0.99 ** 15)) < 1e-12);
  assert.ok(Math.abs(binomialTailAtLeast(2, 2, 0.01) - 1e-4) < 1e-15);
  assert.ok(Math.abs(binomialTailAtLeast(10, 5, 0.5) - 638 / 1024) < 1e-12);
  // n = 100000, p = 0.01: 1,100 bad or more, summed exactly elsewhere: 9.11780341e-4.
  const far = binomialTailAtLeast(100_000, 1_100, 0.01);
  assert.ok(Math.abs(far / 9.11780341e-4 - 1) < 1e-6, `tail ${far}`);
  assert.ok(binomialTailAtLeast(100_000, 900, 0.01) > 0.99, "below the mean the tail is nearly 1");
  assert.equal(binomialTailAtLeast(10, 0, 0.3), 1);
  assert.equal(binomialTailAtLeast(10, 11, 0.3), 0);
  assert.equal(binomialTailAtLeast(10, 1, 0), 0);
  assert.equal(binomialTailAtLeast(1_000_000, 900_000, 0.01), 0, "underflows to 0, fast");
  assert.throws(() => binomialTailAtLeast(2.5, 1, 0.1), /whole n >= 0 and k/);
  assert.throws(() => binomialTailAtLeast(10, 1, 1.5), /within \[0, 1\], got 1.5/);
});

test("what each built-in allows: 1 - the success rate, 1% slower than the p99 threshold", () => {
  assert.ok(Math.abs((allowedBadShare(successRate) ?? 0) - 0.01) < 1e-12);
  assert.equal(allowedBadShare(latency), 0.01);
  const [template] = (() => {
    const parsed = parseAnalysis("error-rate<=1");
    assert.ok(parsed.ok);
    return parsed.value;
  })();
  assert.equal(allowedBadShare(template as never), undefined);
});

test("a canary that fails every request is convicted on two requests; one failure among 15 is not enough", () => {
  assert.equal(convincing({ requests: 2, bad: 2 }, 0.01), true);
  assert.equal(
    convincing({ requests: 1, bad: 1 }, 0.01),
    false,
    "one request: 1% of canaries at the threshold",
  );
  assert.equal(convincing({ requests: 15, bad: 1 }, 0.01), false);
  assert.equal(convincing({ requests: 30, bad: 3 }, 0.01), true);
  assert.equal(convincing({ requests: 300, bad: 6 }, 0.01), false, "2% of 300 could be a 1% canary's luck");
  assert.equal(convincing({ requests: 3_000, bad: 60 }, 0.01), true, "2% of 3,000 could not");
  // increase() extrapolates: counts are rounded; no bad request convinces of nothing.
  assert.equal(convincing({ requests: 2.4, bad: 2.4 }, 0.01), true);
  assert.equal(convincing({ requests: 40, bad: 0.3 }, 0.01), false);
  assert.equal(convincing({ requests: 0, bad: 0 }, 0.01), false);
  assert.equal(convincing({ requests: 5, bad: 1 }, 0), true, "success-rate>=100: any failure");
});

test("slow requests come from the buckets: all less those under the first bound at or above the threshold", () => {
  const buckets = new Map([
    ["100", 80],
    ["500", 95],
    ["1000", 99],
    ["+Inf", 100],
  ]);
  assert.deepEqual(slowRequests(buckets, 500), { requests: 100, bad: 5 });
  assert.deepEqual(
    slowRequests(buckets, 450),
    { requests: 100, bad: 5 },
    "450 ms: the 500 ms bound, never more slow",
  );
  assert.deepEqual(slowRequests(buckets, 60_000), { requests: 100, bad: 0 });
  assert.equal(slowRequests(new Map(), 500), undefined);
});

test("a failed value stands on convincing counts and says them; otherwise it is inconclusive", () => {
  const failed = {
    result: "fail" as const,
    value: 93.3,
    reason: "success-rate 93.3%, wanted success-rate>=99",
  };
  assert.deepEqual(weigh(successRate, failed, { requests: 30, bad: 30 }, 25_000), {
    ...failed,
    reason: "success-rate 93.3%, wanted success-rate>=99 (30 of 30 requests failed in 25s)",
  });
  assert.deepEqual(weigh(successRate, failed, { requests: 15, bad: 1 }, 25_000), {
    result: "inconclusive",
    reason:
      "success-rate 93.3%, wanted success-rate>=99, but only 1 of 15 requests failed in 25s: too few to tell from chance",
  });
  const slow = {
    result: "fail" as const,
    value: 812,
    reason: "latency-p99 812ms, wanted latency-p99<=500ms",
  };
  assert.match(
    (weigh(latency, slow, { requests: 300, bad: 12 }, 20_000) as { reason: string }).reason,
    /\(12 of 300 requests slower than 500ms in 20s\)$/,
  );
  assert.equal(weigh(successRate, failed, undefined, 25_000).result, "inconclusive");
});
