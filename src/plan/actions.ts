import type { V1PodTemplateSpec } from "@kubernetes/client-node";

/**
 * What the planner asks the watcher to do, in order. The watcher performs them one by one and stops
 * at the first failure; the next reconcile decides again from what it then reads.
 */
export type Action =
  /** Create or repair `<service>-stable` and `<service>-canary` from the apex Service. */
  | { type: "ensureServices" }
  /** Write the traffic split (creating it when missing); canary share out of 10000. */
  | { type: "setWeights"; canary: number }
  /** Create or update `<name>-canary` with this template. */
  | { type: "applyCanary"; template: V1PodTemplateSpec; revision: string }
  | { type: "deleteCanary" }
  /** Delete the traffic split and the two track Services. */
  | { type: "removeRouting" }
  /**
   * One write of the Deployment, guarded by the resourceVersion it was read at: annotations to set
   * (null removes), and for promotion the pod template.
   */
  | {
      type: "writeDeployment";
      annotations: Record<string, string | null>;
      labels?: Record<string, string | null>;
      template?: V1PodTemplateSpec;
    }
  | { type: "event"; reason: string; message: string; warning?: boolean };

export interface Plan {
  actions: Action[];
  /** Reconcile again after this long even if nothing changes (a step's hold, a deadline). */
  requeueAfterMs?: number;
}
