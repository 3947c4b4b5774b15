import type { V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isConflict, isNotFound, type Kube, mergePatch } from "./kube.js";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/** RFC 3339 with exactly six fractional digits: the API server's MicroTime accepts nothing else. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Whether the record someone else holds has lapsed, judged by our own clock since we last saw it change. */
export function leaseExpired(observedAtMs: number, durationMs: number, nowMs: number): boolean {
  return observedAtMs + durationMs <= nowMs;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: acquire when the holder's
 * record has not changed for a lease duration, renew every retry period, and give up leadership
 * when renewing fails for longer than the renew deadline.
 */
export class LeaderElector {
  private observedRecord = "";
  private observedAtMs = 0;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  /** When the Lease was last read or written without an error. */
  private lastContactMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly kube: Kube,
    private readonly options: LeaderOptions,
    private readonly logger: Logger,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Whether no other replica can have taken the Lease by `nowMs`: leading, and the last successful
   * renewal (timed from before its request was sent) is less than a lease duration old. Another replica
   * waits a whole lease duration from the moment it saw that renewal, so until then this one writes
   * alone. A process that was paused (a stopped VM, a long GC, SIGSTOP) finds out here before it
   * writes, not at its next renewal.
   */
  holdsLease(nowMs = Date.now()): boolean {
    return this.leading && nowMs < this.lastRenewMs + this.options.leaseDurationMs;
  }

  /**
   * A standby in good health: it has read the Lease within the last lease duration, so it would see a
   * leader's lapse and take over. One that cannot reach the apiserver is not.
   */
  takesPart(nowMs = Date.now()): boolean {
    return nowMs < this.lastContactMs + this.options.leaseDurationMs;
  }

  /** Starts the election loop; the callbacks run on gaining and on losing leadership. */
  run(onStartedLeading: () => void, onStoppedLeading: () => void): void {
    const loop = async () => {
      if (this.stopped) return;
      const now = Date.now();
      let held = false;
      try {
        held = await this.tryAcquireOrRenew(new Date(now));
        this.lastContactMs = now;
      } catch (error) {
        this.logger.warn({ err: error, lease: this.options.name }, "lease update failed");
      }
      if (held) {
        this.lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.logger.info({ identity: this.options.identity, lease: this.options.name }, "became leader");
          onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenewMs > this.options.renewDeadlineMs) {
        this.leading = false;
        this.logger.error({ identity: this.options.identity }, "lost leadership");
        onStoppedLeading();
      }
      if (!this.stopped) this.timer = setTimeout(loop, this.options.retryPeriodMs);
    };
    void loop();
  }

  /** Stops the loop and, when leading, hands the lease back so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      await this.kube.coordination.patchNamespacedLease(
        {
          name: this.options.name,
          namespace: this.options.namespace,
          body: { spec: { holderIdentity: null } },
        },
        mergePatch,
      );
    } catch (error) {
      this.logger.warn({ err: error }, "could not release the lease");
    }
  }

  private async tryAcquireOrRenew(now: Date): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const durationSeconds = Math.ceil(this.options.leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.kube.coordination.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        lease = await this.kube.coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, leaseTransitions: 0 },
          },
        });
      } catch (createError) {
        if (isConflict(createError)) return false;
        throw createError;
      }
      return this.write(lease, now, true);
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity ?? ""}|${String(spec.renewTime ?? "")}|${spec.leaseTransitions ?? 0}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAtMs = now.getTime();
    }
    const holder = spec.holderIdentity ?? "";
    const mine = holder === identity;
    const durationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (!mine && holder !== "" && !leaseExpired(this.observedAtMs, durationMs, now.getTime())) return false;
    return this.write(lease, now, !mine);
  }

  private async write(lease: V1Lease, now: Date, acquiring: boolean): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const spec: Record<string, unknown> = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (acquiring) {
      spec.acquireTime = microTime(now);
      spec.leaseTransitions = (lease.spec?.leaseTransitions ?? 0) + (lease.spec?.holderIdentity ? 1 : 0);
    }
    try {
      const written = await this.kube.coordination.patchNamespacedLease(
        { name, namespace, body: { metadata: { resourceVersion: lease.metadata?.resourceVersion }, spec } },
        mergePatch,
      );
      this.observedRecord = `${identity}|${String(written.spec?.renewTime ?? "")}|${written.spec?.leaseTransitions ?? 0}`;
      this.observedAtMs = now.getTime();
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
