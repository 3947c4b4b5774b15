import { isPhase, type Phase } from "../contract/keys.js";
import { canonicalJson } from "../contract/revision.js";

/**
 * What the watcher must remember between reconciles, kept on the Deployment as `serin.dev/state` so a
 * restarted (or newly elected) watcher carries on where the last one stopped.
 */
export interface CanaryState {
  /**
   * The phase this bookkeeping was written with. The split is written first in every decision, so when
   * the Deployment's label lags behind (its write lost a race), the split says where the canary is.
   */
  phase?: Phase;
  /** The revision this bookkeeping belongs to; a different pending revision starts afresh. */
  revision: string;
  /** Index into the steps; -1 while the canary is not ready yet. */
  step: number;
  /** When the canary Deployment was (re)pointed at the revision: the progress deadline counts from here. */
  startedAt: string;
  /** When the current step's weight was written. */
  stepStartedAt?: string;
  /** Consecutive failed checks. */
  failures: number;
  /** Set while a user's pause holds the schedule: when it began. */
  pausedAt?: string;
  /** When the metric checks last ran in this step, and what they concluded. */
  lastAnalysisAt?: string;
  lastAnalysis?: "pass" | "fail" | "inconclusive";
}

export function parseState(text: string | undefined): CanaryState | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<CanaryState>;
    if (
      typeof value.revision !== "string" ||
      typeof value.step !== "number" ||
      typeof value.startedAt !== "string"
    ) {
      return undefined;
    }
    return {
      revision: value.revision,
      step: value.step,
      startedAt: value.startedAt,
      failures: typeof value.failures === "number" ? value.failures : 0,
      ...(isPhase(value.phase) ? { phase: value.phase } : {}),
      ...(typeof value.stepStartedAt === "string" ? { stepStartedAt: value.stepStartedAt } : {}),
      ...(typeof value.pausedAt === "string" ? { pausedAt: value.pausedAt } : {}),
      ...(typeof value.lastAnalysisAt === "string" ? { lastAnalysisAt: value.lastAnalysisAt } : {}),
      ...(value.lastAnalysis === "pass" ||
      value.lastAnalysis === "fail" ||
      value.lastAnalysis === "inconclusive"
        ? { lastAnalysis: value.lastAnalysis }
        : {}),
    };
  } catch {
    return undefined;
  }
}

/** Sorted keys: the same state always reads the same, so an unchanged state is never rewritten. */
export function serializeState(state: CanaryState): string {
  return canonicalJson(state);
}

export function elapsedMs(since: string | undefined, now: Date): number {
  return since ? now.getTime() - Date.parse(since) : 0;
}
