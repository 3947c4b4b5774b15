import type { V1Deployment } from "@kubernetes/client-node";
import type { MetricCheck } from "../contract/analysis.js";
import { annotationsOf, phaseOf } from "../contract/deployment.js";
import { StatusKey } from "../contract/keys.js";
import { type CanarySpec, parseCanarySpec, type SpecOptions } from "../contract/spec.js";
import { type CanaryState, elapsedMs, parseState } from "./state.js";

/**
 * When the metric checks and the test gates of a step are due. The watcher asks before planning,
 * runs what is due, and hands the verdicts to the planner; time and state decide, nothing else.
 */

/** Milliseconds until the next metric check of the current step (Infinity when there is none). */
export function analysisDueInMs(spec: CanarySpec, state: CanaryState, now: Date): number {
  if (spec.analysis.length === 0 || !state.stepStartedAt) return Number.POSITIVE_INFINITY;
  const last = ranThisStep(state) ? state.lastAnalysisAt : state.stepStartedAt;
  return Math.max(0, spec.analysisIntervalMs - elapsedMs(last, now));
}

function ranThisStep(state: CanaryState): boolean {
  return (
    state.lastAnalysisAt !== undefined &&
    state.stepStartedAt !== undefined &&
    Date.parse(state.lastAnalysisAt) >= Date.parse(state.stepStartedAt)
  );
}

/** Whether the latest checks of the current step passed. */
export function passedThisStep(state: CanaryState): boolean {
  return ranThisStep(state) && state.lastAnalysis === "pass";
}

export interface DueGates {
  /** Run these metric checks now. */
  checks?: MetricCheck[];
  /** Call these test gates now (only if the checks run with them pass). */
  tests?: { urls: string[]; step: number; weight: number };
  spec: CanarySpec;
  state: CanaryState;
}

export function dueGates(deployment: V1Deployment, now: Date, options?: SpecOptions): DueGates | undefined {
  if (phaseOf(deployment) !== "Progressing") return undefined;
  const annotations = annotationsOf(deployment);
  const parsed = parseCanarySpec(annotations, deployment.metadata?.name ?? "", options);
  const state = parseState(annotations[StatusKey.state]);
  if (!parsed.ok || !state || state.pausedAt || state.revision !== annotations[StatusKey.pendingRevision]) {
    return undefined;
  }
  const spec = parsed.spec;
  const step = spec.steps[state.step];
  if (step?.kind !== "weight" || spec.action) return undefined;
  const checksDue = analysisDueInMs(spec, state, now) === 0;
  const stepOver = elapsedMs(state.stepStartedAt, now) >= spec.stepIntervalMs;
  const testsDue =
    spec.tests.length > 0 && stepOver && (spec.analysis.length === 0 || checksDue || passedThisStep(state));
  return {
    spec,
    state,
    ...(checksDue ? { checks: spec.analysis } : {}),
    ...(testsDue ? { tests: { urls: spec.tests, step: state.step + 1, weight: step.weight / 100 } } : {}),
  };
}
