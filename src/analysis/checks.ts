import type { MetricCheck } from "../contract/analysis.js";
import type { GateVerdict } from "../plan/decide.js";
import { type Evidence, slowRequests, weigh } from "./evidence.js";
import type { PrometheusClient } from "./prometheus.js";
import {
  type CheckResult,
  evidenceQueries,
  judge,
  type MetricTemplates,
  type QueryScope,
  queryFor,
} from "./queries.js";

/**
 * Runs every metric check of a canary and sums them up: any failure fails the analysis; otherwise any
 * check without data makes it inconclusive. A built-in check whose value fails is weighed on its request
 * counts first (evidence.ts): too few bad requests to tell from chance is inconclusive. A query
 * Prometheus refuses is a failure that names why.
 */
export async function runChecks(
  checks: readonly MetricCheck[],
  scope: QueryScope,
  prometheus: PrometheusClient,
  templates: MetricTemplates,
): Promise<GateVerdict> {
  const results = await Promise.all(
    checks.map(async (check): Promise<CheckResult | { result: "fail"; reason: string }> => {
      const query = queryFor(check, scope, templates);
      if (query === undefined) {
        return {
          result: "fail",
          reason: `${check.name} is neither built in nor a configured metric template`,
        };
      }
      try {
        const judged = judge(check, await prometheus.query(query));
        if (judged.result !== "fail" || templates.has(check.name)) return judged;
        return weigh(check, judged, await readEvidence(check, scope, prometheus), scope.windowMs);
      } catch (error) {
        return { result: "fail", reason: `${check.name}: ${(error as Error).message}` };
      }
    }),
  );
  const failed = results.flatMap((result) => (result.result === "fail" ? [result.reason] : []));
  if (failed.length > 0) return { result: "fail", reason: failed.join("; ") };
  const waiting = results.flatMap((result) => (result.result === "inconclusive" ? [result.reason] : []));
  if (waiting.length > 0) return { result: "inconclusive", reason: waiting.join("; ") };
  return { result: "pass" };
}

async function readEvidence(
  check: MetricCheck,
  scope: QueryScope,
  prometheus: PrometheusClient,
): Promise<Evidence | undefined> {
  const queries = evidenceQueries(check.name, scope);
  if (!queries) return undefined;
  if ("buckets" in queries) {
    return slowRequests(await prometheus.queryByLabel(queries.buckets, "le"), check.threshold);
  }
  const [requests, failed] = await Promise.all([
    prometheus.query(queries.requests),
    prometheus.query(queries.failed),
  ]);
  // No failure series is no failure (the proxy exports none until one happens).
  return requests === undefined ? undefined : { requests, bad: failed ?? 0 };
}
