import { hostname } from "node:os";
import type { CoreV1Event, V1Deployment } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { IdleWaiters } from "./idle.js";
import type { Kube } from "./kube.js";

let sequence = 0n;

function eventSuffix(now: Date): string {
  sequence = (sequence + 1n) % 1_000_000n;
  return (BigInt(now.getTime()) * 1_000_000n + sequence).toString(16);
}

export interface EventRecorderOptions {
  /** Events waiting to be sent; past this, new ones are dropped (and counted in the log). */
  maxPending?: number;
  /** Events sent at once. */
  concurrency?: number;
  /** Asked before each send: false once another replica may be writing. */
  mayWrite?: () => boolean;
}

const DEFAULT_MAX_PENDING = 4_096;
const DEFAULT_CONCURRENCY = 4;

/**
 * Kubernetes Events on the Deployment, so `kubectl describe` tells the canary's story. Sent in the
 * background, as Kubernetes' own recorder does: a reconcile hands the event over and goes on, so a
 * slow apiserver delays the story, never the next step of another canary. Best effort: a lost event
 * is logged, never a reason to fail or repeat a reconcile; a full queue drops new events.
 */
export class EventRecorder {
  private readonly instance = hostname();
  private readonly pending: CoreV1Event[] = [];
  private readonly maxPending: number;
  private readonly concurrency: number;
  private readonly mayWrite: () => boolean;
  private sending = 0;
  private dropped = 0;
  private readonly idleWaiters = new IdleWaiters();

  constructor(
    private readonly kube: Kube,
    private readonly logger: Logger,
    options: EventRecorderOptions = {},
  ) {
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.mayWrite = options.mayWrite ?? (() => true);
  }

  /** Queues the event; its name and timestamps are taken now, so events list in the order recorded. */
  record(deployment: V1Deployment, reason: string, message: string, warning = false): void {
    if (this.pending.length >= this.maxPending) {
      if (this.dropped++ === 0) this.logger.warn({ reason }, "event queue full; dropping events");
      return;
    }
    this.pending.push(this.build(deployment, reason, message, warning));
    this.pump();
  }

  /** Events queued or in flight. */
  get backlog(): number {
    return this.pending.length + this.sending;
  }

  /** Resolves once every queued event was sent (or `graceMs` passed). */
  async flush(graceMs = 5_000): Promise<void> {
    if (this.backlog === 0) return;
    await this.idleWaiters.wait(graceMs);
  }

  private pump(): void {
    while (this.sending < this.concurrency && this.pending.length > 0) {
      const body = this.pending.shift() as CoreV1Event;
      this.sending++;
      void this.send(body).finally(() => {
        this.sending--;
        this.pump();
        if (this.backlog === 0) {
          if (this.dropped > 0)
            this.logger.warn({ dropped: this.dropped }, "events dropped while the queue was full");
          this.dropped = 0;
          this.idleWaiters.release();
        }
      });
    }
  }

  private async send(body: CoreV1Event): Promise<void> {
    if (!this.mayWrite()) return;
    const namespace = body.metadata.namespace ?? "default";
    try {
      await this.kube.core.createNamespacedEvent({ namespace, body });
    } catch (error) {
      this.logger.warn({ err: error, reason: body.reason }, "could not record an event");
    }
  }

  private build(deployment: V1Deployment, reason: string, message: string, warning: boolean): CoreV1Event {
    const namespace = deployment.metadata?.namespace ?? "default";
    const name = deployment.metadata?.name ?? "";
    const now = new Date();
    return {
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
  }
}
