import type { CanarySpec } from "../contract/spec.js";
import type { GateTicket } from "./actions.js";
import { type CanaryState, elapsedMs } from "./state.js";

/**
 * When the metric checks of a step are due, and what a finished gate job said. The planner decides
 * what to start; the jobs run in the background and their outcomes come back to a later reconcile.
 */

/** The verdict of the metric checks, or of the test gates. */
export type GateVerdict =
  | { result: "pass" }
  | { result: "fail"; reason: string }
  | { result: "inconclusive"; reason: string };

/** A finished gate job: its verdict, the step it belongs to, and when it started (ISO time). */
export interface GateOutcome {
  verdict: GateVerdict;
  ticket: GateTicket;
  at: string;
}

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

/** The ticket of the step `state` holds. */
export function ticketOf(state: CanaryState): GateTicket {
  return { revision: state.revision, stepStartedAt: state.stepStartedAt ?? state.startedAt };
}

/** An outcome that belongs to the step held now (a late answer for an earlier step counts for nothing). */
export function forThisStep(outcome: GateOutcome | undefined, state: CanaryState): GateOutcome | undefined {
  if (!outcome) return undefined;
  const ticket = ticketOf(state);
  return outcome.ticket.revision === ticket.revision && outcome.ticket.stepStartedAt === ticket.stepStartedAt
    ? outcome
    : undefined;
}
