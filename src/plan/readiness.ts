import type { V1Deployment } from "@kubernetes/client-node";

/** Deployment rollout status as `kubectl rollout status` reads it, from the object alone. */
export type Rollout =
  | { state: "complete" }
  | { state: "progressing"; reason: string }
  | { state: "failed"; reason: string };

export function rolloutOf(deployment: V1Deployment | undefined): Rollout {
  if (!deployment) return { state: "progressing", reason: "the Deployment does not exist yet" };
  const generation = deployment.metadata?.generation ?? 0;
  const status = deployment.status ?? {};
  const wanted = deployment.spec?.replicas ?? 1;
  if ((status.observedGeneration ?? 0) < generation) {
    return { state: "progressing", reason: "the new spec has not been observed yet" };
  }
  const stalled = status.conditions?.find(
    (condition) => condition.type === "Progressing" && condition.reason === "ProgressDeadlineExceeded",
  );
  if (stalled)
    return { state: "failed", reason: stalled.message || "its rollout exceeded its progress deadline" };
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const total = status.replicas ?? 0;
  if (updated < wanted) return { state: "progressing", reason: `${updated} of ${wanted} replicas updated` };
  if (total > updated)
    return { state: "progressing", reason: `${total - updated} old replicas still running` };
  if (available < updated)
    return { state: "progressing", reason: `${available} of ${updated} updated replicas available` };
  return { state: "complete" };
}
