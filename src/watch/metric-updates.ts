import {
  ENABLED_LABEL,
  ENABLED_VALUE,
  isPhase,
  type Phase,
  RouteKey,
  StatusLabel,
} from "../contract/keys.js";
import type { AbortCause, Action } from "../plan/actions.js";
import { parseState } from "../plan/state.js";

/**
 * What one reconcile changes in the watcher's metrics, derived from what it performed and from the
 * Deployment and split it left behind. Pure: the planner decides, the watch layer performs, and this
 * reads the outcome; nothing here talks to Prometheus or to the cluster.
 */

/** The Deployment's labels and its split as a reconcile left them. */
export interface CanaryView {
  labels: Readonly<Record<string, string>>;
  /** The split: the canary's share out of 10000 and serin's annotations on it; undefined when none. */
  route?: { canaryWeight: number; annotations: Readonly<Record<string, string>> };
}

export interface ReconcileRecord {
  /**
   * Where the canary stands after the reconcile: "gone" once the Deployment is deleted; undefined when
   * the reconcile did not finish (the gauges keep what the last finished one said).
   */
  after?: CanaryView | "gone";
  /** The actions performed, in order, each with the time its request completed. */
  performed: readonly { action: Action; at: Date }[];
}

/** The per-canary gauges. */
export interface CanarySample {
  phase: Phase;
  /** The canary's share of traffic in percent, as the split holds it (0.1 for 10 of 10000). */
  weight: number;
  /** The step held, counted from 1; 0 outside Progressing and Paused. */
  step: number;
  /** Consecutive failed metric checks while a canary is Progressing or Paused; 0 otherwise. */
  failedChecks: number;
}

export interface MetricUpdate {
  /** The canary's gauges; null removes its series (deleted, opted out, no phase yet); undefined keeps them. */
  sample: CanarySample | null | undefined;
  /** Promotions completed (Promoted events told). */
  promotions: number;
  /** Aborts told, by cause. */
  aborts: AbortCause[];
  /** For each step taken on schedule: seconds from when it was due to when its weight was written. */
  skewSeconds: number[];
}

const STEPPING: ReadonlySet<Phase> = new Set(["Progressing", "Paused"]);

/** The gauges of a canary from what its labels and split say, or null when there is nothing to report. */
export function sampleOf(view: CanaryView): CanarySample | null {
  if (view.labels[ENABLED_LABEL] !== ENABLED_VALUE) return null;
  const phase = view.labels[StatusLabel.phase];
  if (!isPhase(phase)) return null;
  const state = parseState(view.route?.annotations[RouteKey.state]);
  const stepping = STEPPING.has(phase) && state !== undefined && state.step >= 0;
  return {
    phase,
    weight: (view.route?.canaryWeight ?? 0) / 100,
    step: stepping ? state.step + 1 : 0,
    failedChecks: stepping ? state.failures : 0,
  };
}

/**
 * Counters from the actions performed: an event is told once (it follows the split's write, and a
 * decision retried after a lost race does not tell it again), so promotions and aborts are counted
 * from the Promoted and Aborted events that were recorded.
 */
export function metricUpdate(record: ReconcileRecord): MetricUpdate {
  const update: MetricUpdate = {
    sample: record.after === undefined ? undefined : record.after === "gone" ? null : sampleOf(record.after),
    promotions: 0,
    aborts: [],
    skewSeconds: [],
  };
  for (const { action, at } of record.performed) {
    if (action.type === "event" && action.reason === "Promoted") update.promotions += 1;
    // The planner names the cause of every abort it tells (decide.test.ts holds it to that).
    if (action.type === "event" && action.reason === "Aborted" && action.abortCause)
      update.aborts.push(action.abortCause);
    if (action.type === "writeRoute" && action.dueAt !== undefined) {
      const due = Date.parse(action.dueAt);
      if (Number.isFinite(due)) update.skewSeconds.push(Math.max(0, at.getTime() - due) / 1000);
    }
  }
  return update;
}
