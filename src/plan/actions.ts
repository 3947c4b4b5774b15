import type { V1PodTemplateSpec } from "@kubernetes/client-node";
import type { MetricCheck } from "../contract/analysis.js";

/** Which step a gate job belongs to: its verdict counts only while that step is still the one held. */
export interface GateTicket {
  revision: string;
  stepStartedAt: string;
}

/** Why a canary was aborted: a small fixed set, so that it can label a counter. */
export const ABORT_CAUSES = [
  "user",
  "analysis",
  "test-gate",
  "progress-deadline",
  "canary-failed",
  "name-collision",
  "split-deleted",
] as const;
export type AbortCause = (typeof ABORT_CAUSES)[number];

/**
 * What the planner asks the watcher to do, in order. The watcher performs them one by one and stops
 * at the first failure; the next reconcile decides again from what it then reads.
 */
export type Action =
  /** Create or repair `<service>-stable` and `<service>-canary` from the apex Service. */
  | { type: "ensureServices" }
  /**
   * One write of the traffic split (created when missing): the canary's share out of 10000, and serin's
   * annotations on it (state, message, template in flight; null removes).
   */
  | {
      type: "writeRoute";
      canary: number;
      annotations: Record<string, string | null>;
      /** Set when this write takes the next step on schedule: when the step was due (its hold ended). */
      dueAt?: string;
    }
  /** Create or update `<name>-canary` with this template. */
  | { type: "applyCanary"; template: V1PodTemplateSpec; revision: string }
  | { type: "deleteCanary" }
  /** Delete the traffic split and the two track Services of the apex Service `service`. */
  | { type: "removeRouting"; service: string }
  /**
   * One write of the Deployment, guarded by the resourceVersion it was read at: labels and annotations
   * to set (null removes), and for promotion the pod template.
   */
  | {
      type: "writeDeployment";
      annotations: Record<string, string | null>;
      labels: Record<string, string | null>;
      template?: V1PodTemplateSpec;
    }
  | { type: "event"; reason: string; message: string; warning?: boolean; abortCause?: AbortCause }
  /** Start the metric checks of the step in the background; their verdict comes back to a later reconcile. */
  | { type: "runChecks"; checks: MetricCheck[]; intervalMs: number; ticket: GateTicket }
  /** Start the step's test gates in the background. */
  | { type: "callTests"; urls: string[]; step: number; weight: number; ticket: GateTicket };

export interface Plan {
  actions: Action[];
  /** Reconcile again after this long even if nothing changes (a step's hold, a deadline). */
  requeueAfterMs?: number;
}
