import { hostname } from "node:os";
import type { CoreV1Event, V1Deployment } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Kube } from "./kube.js";

let sequence = 0n;

function eventSuffix(now: Date): string {
  sequence = (sequence + 1n) % 1_000_000n;
  return (BigInt(now.getTime()) * 1_000_000n + sequence).toString(16);
}

/** Kubernetes Events on the Deployment, so `kubectl describe` tells the canary's story. */
export class EventRecorder {
  private readonly instance = hostname();

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
  ) {}

  /** Best effort: a lost event is logged, never a reason to fail the reconcile. */
  async record(deployment: V1Deployment, reason: string, message: string, warning = false): Promise<void> {
    const namespace = deployment.metadata?.namespace ?? "default";
    const name = deployment.metadata?.name ?? "";
    const now = new Date();
    const body: CoreV1Event = {
      // Named as Kubernetes' own recorder names events (NAME.<hex nanoseconds>), so they list in order.
      metadata: { name: `${name}.${eventSuffix(now)}`, namespace },
      involvedObject: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name,
        namespace,
        uid: deployment.metadata?.uid ?? "",
        resourceVersion: deployment.metadata?.resourceVersion ?? "",
      },
      reason,
      message,
      type: warning ? "Warning" : "Normal",
      source: { component: "serin" },
      reportingComponent: "serin.dev/watcher",
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.kube.core.createNamespacedEvent({ namespace, body });
    } catch (error) {
      this.logger.warn({ err: error, reason }, "could not record an event");
    }
  }
}
