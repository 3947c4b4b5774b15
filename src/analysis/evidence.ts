import type { MetricCheck } from "../contract/analysis.js";
import { formatDuration } from "../contract/duration.js";
import type { CheckResult } from "./queries.js";

/**
 * Whether a failing built-in check rests on enough requests to be believed. A canary with little
 * traffic (0.1% of a service's requests) sees a handful of requests in a window: one failure among 15
 * is a 93% success rate, yet a version that fails 1% of its requests, which `success-rate>=99` allows,
 * shows that one time in seven. So a built-in check fails only when its bad requests are too many to be
 * chance for a canary exactly at the threshold: fewer than one time in a hundred (EVIDENCE_LEVEL).
 * Otherwise the result is inconclusive and the step holds, as it does with no data. Pure.
 */

/** A check fails only on evidence a canary at its threshold would show less often than this. */
export const EVIDENCE_LEVEL = 0.01;

/** Requests in a check's window, and how many of them were bad (failed, or slower than the threshold). */
export interface Evidence {
  requests: number;
  bad: number;
}

/** The share of bad requests a built-in check allows (undefined: not a built-in, judged on its value). */
export function allowedBadShare(check: MetricCheck): number | undefined {
  if (check.name === "success-rate") return 1 - check.threshold / 100;
  if (check.name === "latency-p99") return 0.01;
  return undefined;
}

/** P(X >= k) for X ~ Binomial(n, p), to about 1e-12. */
export function binomialTailAtLeast(n: number, k: number, p: number): number {
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(k))) {
    throw new RangeError(`binomial tail needs whole n >= 0 and k, got n ${n} and k ${k}`);
  }
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must be within [0, 1], got ${p}`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  // Below the mean the tail is large: sum the other side, which is short, and take the complement.
  if (k <= n * p) return 1 - sumPmf(n, p, k - 1, -1);
  return sumPmf(n, p, k, +1);
}

/** Sum of the binomial pmf from `from` stepping by `direction` until the terms stop mattering. */
function sumPmf(n: number, p: number, from: number, direction: 1 | -1): number {
  const ratio = p / (1 - p);
  let term = Math.exp(logChoose(n, from) + from * Math.log(p) + (n - from) * Math.log(1 - p));
  let sum = 0;
  for (let j = from; j >= 0 && j <= n; j += direction) {
    sum += term;
    // On this side of the mode the terms only shrink: once negligible (or underflowed), the rest are too.
    if (term <= sum * 1e-15) break;
    // pmf(j+1)/pmf(j) = (n-j)/(j+1) * p/(1-p); the other way round when stepping down.
    term = direction === 1 ? (term * (n - j) * ratio) / (j + 1) : (term * j) / ((n - j + 1) * ratio);
  }
  return Math.min(1, sum);
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** ln(n!) exactly for small n, by Stirling's series (error below 1e-12 from n = 30) beyond. */
function logFactorial(n: number): number {
  if (n < 30) {
    let sum = 0;
    for (let i = 2; i <= n; i++) sum += Math.log(i);
    return sum;
  }
  return (
    (n + 0.5) * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI) +
    1 / (12 * n) -
    1 / (360 * n ** 3) +
    1 / (1260 * n ** 5)
  );
}

/**
 * Whether the bad requests convince: as many of them would happen by chance, to a canary exactly at the
 * allowed share, less often than EVIDENCE_LEVEL. Counts come from Prometheus' increase(), which
 * extrapolates; they are rounded to whole requests.
 */
export function convincing(evidence: Evidence, allowedShare: number): boolean {
  const requests = Math.round(evidence.requests);
  const bad = Math.min(requests, Math.round(evidence.bad));
  if (!(requests > 0 && bad > 0)) return false;
  return binomialTailAtLeast(requests, bad, Math.min(1, Math.max(0, allowedShare))) < EVIDENCE_LEVEL;
}

/**
 * Requests slower than `thresholdMs` from a histogram's buckets (cumulative counts by their `le`): all
 * requests less those under the smallest bound at or above the threshold. Requests between the
 * threshold and that bound count as fast, so the evidence never overstates how many were slow.
 */
export function slowRequests(
  buckets: ReadonlyMap<string, number>,
  thresholdMs: number,
): Evidence | undefined {
  const requests = buckets.get("+Inf");
  if (requests === undefined) return undefined;
  let bound = Number.POSITIVE_INFINITY;
  let fast = requests;
  for (const [le, count] of buckets) {
    const value = Number(le);
    if (le !== "+Inf" && Number.isFinite(value) && value >= thresholdMs && value < bound) {
      bound = value;
      fast = count;
    }
  }
  return { requests, bad: Math.max(0, requests - fast) };
}

/**
 * A failed built-in check, weighed: still a failure when its bad requests convince (the counts are added
 * to the reason), inconclusive when they are too few to tell from chance or could not be read.
 */
export function weigh(
  check: MetricCheck,
  failed: Extract<CheckResult, { result: "fail" }>,
  evidence: Evidence | undefined,
  windowMs: number,
): CheckResult {
  const allowed = allowedBadShare(check);
  if (allowed === undefined) return failed;
  if (!evidence)
    return { result: "inconclusive", reason: `${failed.reason}, but its request counts could not be read` };
  const what = check.name === "latency-p99" ? `slower than ${formatDuration(check.threshold)}` : "failed";
  const requests = Math.round(evidence.requests);
  const counts = `${Math.min(requests, Math.round(evidence.bad))} of ${requests} requests ${what} in ${formatDuration(windowMs)}`;
  if (convincing(evidence, allowed)) return { ...failed, reason: `${failed.reason} (${counts})` };
  return {
    result: "inconclusive",
    reason: `${failed.reason}, but only ${counts}: too few to tell from chance`,
  };
}
