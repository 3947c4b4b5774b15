import type { AppHistory, WeightChange } from "../src/localcluster/traffic-model.js";
import type { Scenario } from "./detection-scenarios.js";

/**
 * The detection benchmark's figures, from what it observed of one canary: its split's weights as the
 * benchmark's own WATCH delivered them, and the traffic model's counts. Pure.
 */

export type Outcome = "rolled back" | "promoted" | "unsettled";

/** A split's canary weight (out of 10000) as a WATCH delivered it, with its arrival time (ms). */
export interface SplitSeen {
  at: number;
  canary: number;
}

export interface CanaryResult {
  outcome: Outcome;
  /** From the canary's first bad request to the split seen at stable 100%, ms. */
  detectionMs?: number;
  /** Bad requests caused by the canary, from its first request to the rollback. */
  caused?: number;
  /** ... as a share of all requests in that time (0..1). */
  share?: number;
  /** All requests in that time. */
  requests?: number;
}

/**
 * When the split went back to stable 100% from a canary weight short of 100% (a promotion passes
 * through canary 100% first): the rollback, as the benchmark saw it. Undefined if it did not happen.
 */
export function rollbackAt(seen: readonly SplitSeen[]): number | undefined {
  let live = false;
  for (const { at, canary } of seen) {
    if (canary === 10_000) return undefined;
    if (canary > 0) live = true;
    else if (live) return at;
  }
  return undefined;
}

type Counts = WeightChange["stable"];
const badOf = (counts: Counts, scenario: Scenario) =>
  scenario.badBy === "slow" ? counts.slow : counts.failures;

/**
 * The canary's exposure in the model: from the first weight change that gave it traffic to the next
 * that took all of it away, what each version served. Bad requests "caused by the canary" are its bad
 * ones beyond what the stable version's own share of bad requests in the same time would give it.
 */
export function blastRadius(
  history: AppHistory,
  scenario: Scenario,
): { caused: number; share: number; requests: number } | undefined {
  const startIndex = history.changes.findIndex((change) => change.weights.canary > 0);
  const start = history.changes[startIndex];
  const end = history.changes.slice(startIndex + 1).find((change) => change.weights.canary === 0);
  if (!start || !end) return undefined;
  const delta = (version: "stable" | "canary") => ({
    requests: end[version].requests - start[version].requests,
    bad: badOf(end[version], scenario) - badOf(start[version], scenario),
  });
  const stable = delta("stable");
  const canary = delta("canary");
  const stableShare = stable.requests > 0 ? stable.bad / stable.requests : 0;
  const caused = Math.max(0, canary.bad - canary.requests * stableShare);
  const requests = stable.requests + canary.requests;
  return { caused, share: requests > 0 ? caused / requests : 0, requests };
}

/** The canary's first bad request in the model (ms), by what makes a request bad in the scenario. */
export function firstBadAt(history: AppHistory, scenario: Scenario): number | undefined {
  return scenario.badBy === "slow" ? history.canary.firstSlowAt : history.canary.firstFailureAt;
}

export function canaryResult(
  outcome: Outcome,
  seen: readonly SplitSeen[],
  history: AppHistory | undefined,
  scenario: Scenario,
): CanaryResult {
  const result: CanaryResult = { outcome };
  const back = rollbackAt(seen);
  if (outcome !== "rolled back" || back === undefined || !history) return result;
  const bad = firstBadAt(history, scenario);
  if (bad !== undefined && scenario.bad) result.detectionMs = back - bad;
  const blast = blastRadius(history, scenario);
  if (blast) Object.assign(result, blast);
  return result;
}

/** The nearest-rank percentile of `values` (NaN for none). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export interface GroupFigures {
  n: number;
  rolledBack: number;
  promoted: number;
  unsettled: number;
  detectionP50s: number;
  detectionP99s: number;
  shareP50: number;
  shareP99: number;
  causedP50: number;
}

export function groupFigures(results: readonly CanaryResult[]): GroupFigures {
  const count = (outcome: Outcome) => results.filter((result) => result.outcome === outcome).length;
  const detections = results.flatMap((result) =>
    result.detectionMs === undefined ? [] : [result.detectionMs / 1000],
  );
  const shares = results.flatMap((result) => (result.share === undefined ? [] : [result.share]));
  const caused = results.flatMap((result) => (result.caused === undefined ? [] : [result.caused]));
  return {
    n: results.length,
    rolledBack: count("rolled back"),
    promoted: count("promoted"),
    unsettled: count("unsettled"),
    detectionP50s: percentile(detections, 50),
    detectionP99s: percentile(detections, 99),
    shareP50: percentile(shares, 50),
    shareP99: percentile(shares, 99),
    causedP50: percentile(caused, 50),
  };
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "-");
const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(3)}%` : "-");

export const TABLE_HEADER = [
  "| first step | arm | canary | n | rolled back | promoted | unsettled | detection p50 s | p99 s | blast radius p50 | p99 | bad requests caused p50 |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
];

export function tableRow(phase: string, arm: string, scenario: string, figures: GroupFigures): string {
  return `| ${phase} | ${arm} | ${scenario} | ${figures.n} | ${figures.rolledBack} | ${figures.promoted} | ${figures.unsettled} | ${fixed(figures.detectionP50s, 1)} | ${fixed(figures.detectionP99s, 1)} | ${percent(figures.shareP50)} | ${percent(figures.shareP99)} | ${fixed(figures.causedP50, 1)} |`;
}

/** An arm that cannot run a phase's steps at all: one row that says why, with no figures. */
export function notPossibleRow(phase: string, arm: string, why: string): string {
  return `| ${phase} | ${arm} | every scenario | 0 | not possible: ${why} | - | - | - | - | - | - | - |`;
}
