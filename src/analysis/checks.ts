import type { MetricCheck } from "../contract/analysis.js";
import type { GateVerdict } from "../plan/decide.js";
import type { PrometheusClient } from "./prometheus.js";
import { judge, type MetricTemplates, type QueryScope, queryFor } from "./queries.js";

/**
 * Runs every metric check of a canary and sums them up: any failure fails the analysis; otherwise any
 * check without data makes it inconclusive. A query Prometheus refuses is a failure that names why.
 */
export async function runChecks(
  checks: readonly MetricCheck[],
  scope: QueryScope,
  prometheus: PrometheusClient,
  templates: MetricTemplates,
): Promise<GateVerdict> {
  const results = await Promise.all(
    checks.map(async (check) => {
      const query = queryFor(check, scope, templates);
      if (query === undefined) {
        return {
          result: "fail" as const,
          reason: `${check.name} is neither built in nor a configured metric template`,
        };
      }
      try {
        return judge(check, await prometheus.query(query));
      } catch (error) {
        return { result: "fail" as const, reason: `${check.name}: ${(error as Error).message}` };
      }
    }),
  );
  const failed = results.flatMap((result) => (result.result === "fail" ? [result.reason] : []));
  if (failed.length > 0) return { result: "fail", reason: failed.join("; ") };
  const waiting = results.flatMap((result) => (result.result === "inconclusive" ? [result.reason] : []));
  if (waiting.length > 0) return { result: "inconclusive", reason: waiting.join("; ") };
  return { result: "pass" };
}
