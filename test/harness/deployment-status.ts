// The Deployment status stand-in.
//
// The local control plane runs no kube-controller-manager, so no Deployment ever gets a status, and
// nothing that waits for a rollout (serin's watcher, `kubectl rollout status`, helm --wait) would see
// one finish. This stand-in is the only piece of the deployment controller the tests get: it watches
// Deployments and, `delayMs` after it sees a new generation, writes the `status` subresource as if every
// replica of that generation were updated, ready and available. It creates no ReplicaSets or Pods.
// Tests steer single Deployments with `holdUnready` (never becomes available), `fail` (progress
// deadline exceeded) and `release` (back to rolling out normally).

import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiException,
  AppsV1Api,
  type Informer,
  makeInformer,
  type V1Deployment,
  type V1DeploymentCondition,
  type V1DeploymentStatus,
} from "@kubernetes/client-node";
import type { ControlPlane } from "./control-plane.js";

export interface DeploymentStatusStandInOptions {
  /** How long after a new generation appears its rollout looks finished. */
  delayMs: number;
}

export interface DeploymentStatusStandIn {
  /** From now on NAMESPACE/NAME (existing or not yet created) shows 0 ready and available replicas. */
  holdUnready(namespace: string, name: string): Promise<void>;
  /** From now on NAMESPACE/NAME shows Progressing=False, reason ProgressDeadlineExceeded. */
  fail(namespace: string, name: string): Promise<void>;
  /** Back to normal: NAMESPACE/NAME looks rolled out `delayMs` from now; resolves once that is written. */
  release(namespace: string, name: string): Promise<void>;
  /** Stops watching; the control plane's `stop()` does this too. */
  stop(): Promise<void>;
}

type Mode = "rollout" | "unready" | "failed";

interface StatusShape {
  observedGeneration: number;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  conditions: { type: string; status: string; reason: string; message: string }[];
}

/** What the deployment controller would report for `deployment` in `mode`. */
function statusFor(deployment: V1Deployment, mode: Mode): StatusShape {
  const replicas = deployment.spec?.replicas ?? 1;
  const name = deployment.metadata?.name ?? "";
  const available = mode === "rollout";
  const progressing =
    mode === "rollout"
      ? {
          status: "True",
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet for "${name}" has successfully progressed.`,
        }
      : mode === "unready"
        ? { status: "True", reason: "ReplicaSetUpdated", message: `ReplicaSet for "${name}" is progressing.` }
        : {
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: `ReplicaSet for "${name}" has timed out progressing.`,
          };
  return {
    observedGeneration: deployment.metadata?.generation ?? 0,
    replicas,
    readyReplicas: available ? replicas : 0,
    availableReplicas: available ? replicas : 0,
    conditions: [
      available
        ? {
            type: "Available",
            status: "True",
            reason: "MinimumReplicasAvailable",
            message: "Deployment has minimum availability.",
          }
        : {
            type: "Available",
            status: "False",
            reason: "MinimumReplicasUnavailable",
            message: "Deployment does not have minimum availability.",
          },
      { type: "Progressing", ...progressing },
    ],
  };
}

/** Whether `current` already says what `wanted` says (timestamps aside). */
function shows(current: V1DeploymentStatus | undefined, wanted: StatusShape): boolean {
  if (!current) return false;
  const same =
    (current.observedGeneration ?? 0) === wanted.observedGeneration &&
    (current.replicas ?? 0) === wanted.replicas &&
    (current.updatedReplicas ?? 0) === wanted.replicas &&
    (current.readyReplicas ?? 0) === wanted.readyReplicas &&
    (current.availableReplicas ?? 0) === wanted.availableReplicas;
  return (
    same &&
    wanted.conditions.every((w) =>
      current.conditions?.some((c) => c.type === w.type && c.status === w.status && c.reason === w.reason),
    )
  );
}

function toStatus(
  shape: StatusShape,
  previous: V1DeploymentStatus | undefined,
  now: Date,
): V1DeploymentStatus {
  const conditions: V1DeploymentCondition[] = shape.conditions.map((condition) => {
    const before = previous?.conditions?.find((c) => c.type === condition.type);
    const transitioned = !before || before.status !== condition.status;
    return {
      ...condition,
      lastUpdateTime: now,
      lastTransitionTime: transitioned ? now : (before.lastTransitionTime ?? now),
    };
  });
  return {
    observedGeneration: shape.observedGeneration,
    replicas: shape.replicas,
    updatedReplicas: shape.replicas,
    readyReplicas: shape.readyReplicas,
    availableReplicas: shape.availableReplicas,
    unavailableReplicas: shape.replicas - shape.availableReplicas,
    conditions,
  };
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** Starts watching all Deployments; resolves once the initial list has been read. */
export async function startDeploymentStatusStandIn(
  cp: ControlPlane,
  options: DeploymentStatusStandInOptions,
): Promise<DeploymentStatusStandIn> {
  const config = cp.kubeConfig();
  const apps = config.makeApiClient(AppsV1Api);
  const modes = new Map<string, Mode>();
  const pending = new Map<string, { timer: NodeJS.Timeout; generation: number }>();
  const queues = new Map<string, Promise<void>>();
  let stopped = false;

  const modeOf = (key: string): Mode => modes.get(key) ?? "rollout";

  /** Re-reads the Deployment and writes the status its mode calls for; re-reads again on a conflict. */
  const reconcile = async (namespace: string, name: string): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      let deployment: V1Deployment;
      try {
        deployment = await apps.readNamespacedDeployment({ name, namespace });
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return;
        throw error;
      }
      const wanted = statusFor(deployment, modeOf(keyOf(namespace, name)));
      if (shows(deployment.status, wanted)) return;
      deployment.status = toStatus(wanted, deployment.status, new Date());
      try {
        await apps.replaceNamespacedDeploymentStatus({ name, namespace, body: deployment });
        return;
      } catch (error) {
        const retriable = error instanceof ApiException && error.code === 409 && attempt < 20;
        if (!retriable) throw error;
      }
    }
  };

  /** Runs reconciles of one Deployment one after another; errors are reported, not thrown at the informer. */
  const enqueue = (namespace: string, name: string): Promise<void> => {
    const key = keyOf(namespace, name);
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => reconcile(namespace, name))
      .catch((error: unknown) => {
        if (!stopped) process.emitWarning(`deployment status stand-in: ${key}: ${(error as Error).message}`);
      });
    queues.set(key, next);
    void next.then(() => {
      if (queues.get(key) === next) queues.delete(key);
    });
    return next;
  };

  const observe = (deployment: V1Deployment) => {
    const namespace = deployment.metadata?.namespace;
    const name = deployment.metadata?.name;
    if (stopped || !namespace || !name) return;
    const key = keyOf(namespace, name);
    const mode = modeOf(key);
    if (shows(deployment.status, statusFor(deployment, mode))) return;
    const generation = deployment.metadata?.generation ?? 0;
    const scheduled = pending.get(key);
    if (scheduled?.generation === generation) return;
    if (scheduled) clearTimeout(scheduled.timer);
    // Only a rollout takes time; a held or failed Deployment shows so at once.
    const delay = mode === "rollout" ? options.delayMs : 0;
    const timer = setTimeout(() => {
      pending.delete(key);
      void enqueue(namespace, name);
    }, delay);
    pending.set(key, { timer, generation });
  };

  const informer: Informer<V1Deployment> = makeInformer(config, "/apis/apps/v1/deployments", () =>
    apps.listDeploymentForAllNamespaces(),
  );
  informer.on("add", observe);
  informer.on("update", observe);
  informer.on("delete", (deployment) => {
    const key = keyOf(deployment.metadata?.namespace ?? "", deployment.metadata?.name ?? "");
    const scheduled = pending.get(key);
    if (scheduled) clearTimeout(scheduled.timer);
    pending.delete(key);
  });
  // Informers stop on any error but 410 Gone: restart until stopped.
  informer.on("error", () => {
    if (!stopped) setTimeout(() => void (stopped ? undefined : informer.start()), 500).unref();
  });
  await informer.start();

  const setMode = (namespace: string, name: string, mode: Mode) => {
    const key = keyOf(namespace, name);
    if (mode === "rollout") modes.delete(key);
    else modes.set(key, mode);
    const scheduled = pending.get(key);
    if (scheduled) clearTimeout(scheduled.timer);
    pending.delete(key);
  };

  let stopping: Promise<void> | undefined;
  const standIn: DeploymentStatusStandIn = {
    holdUnready(namespace, name) {
      setMode(namespace, name, "unready");
      return enqueue(namespace, name);
    },
    fail(namespace, name) {
      setMode(namespace, name, "failed");
      return enqueue(namespace, name);
    },
    async release(namespace, name) {
      setMode(namespace, name, "rollout");
      await sleep(options.delayMs);
      await enqueue(namespace, name);
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        for (const { timer } of pending.values()) clearTimeout(timer);
        pending.clear();
        await informer.stop();
        await Promise.all(queues.values());
      })();
      return stopping;
    },
  };
  cp.onStop(() => standIn.stop());
  return standIn;
}
