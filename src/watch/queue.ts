import { IdleWaiters } from "./idle.js";

/**
 * A keyed work queue in the manner of client-go's: handlers enqueue keys, never objects; a key is
 * processed by one worker at a time, and a key added while it is being processed runs once more
 * afterwards. Delayed adds keep the earliest due time. Failures back off per key.
 *
 * Three lanes, taken in order: a user's change of a Deployment (an action, a new template, a delete)
 * first; then watch events and due times (serin's own writes seen again, a step or a poll falling due);
 * then periodic resyncs. An abort never waits behind a thousand canaries whose polls came due, nor
 * behind a thousand Deployments that are only being looked at again.
 */
export interface QueueOptions {
  workers: number;
  /** First retry delay after a failure; doubles per consecutive failure up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | undefined>;

/** "user": a user changed the Deployment; "event": a watch event or a due time; "resync": the periodic look. */
export type Lane = "user" | "event" | "resync";

/** The lanes in the order they are served. */
const LANES: readonly Lane[] = ["user", "event", "resync"];

/**
 * Workers beyond the configured ones that only a user's change may take: with every worker in a write
 * that the apiserver answers slowly under load, an abort still starts at once.
 */
export const USER_WORKERS = 2;

export class WorkQueue {
  // Sets keep insertion order: each is a FIFO with O(1) removal.
  private readonly ready: Record<Lane, Set<string>> = {
    user: new Set(),
    event: new Set(),
    resync: new Set(),
  };
  private readonly active = new Set<string>();
  /** Keys added while being processed, with the earliest lane they were added in. */
  private readonly dirty = new Map<string, Lane>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private readonly idleWaiters = new IdleWaiters();
  /** Longest a requeue may be asked for: a delay past it is clamped (timers overflow past 2^31-1 ms). */
  static readonly MAX_DELAY_MS = 24 * 60 * 60 * 1000;

  constructor(
    private readonly handler: Handler,
    private readonly options: QueueOptions,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void = () => {},
  ) {}

  add(key: string, lane: Lane = "event"): void {
    if (this.stopped) return;
    if (lane !== "resync") {
      const pending = this.timers.get(key);
      if (pending) {
        clearTimeout(pending.timer);
        this.timers.delete(key);
      }
    }
    if (this.active.has(key)) {
      const before = this.dirty.get(key);
      if (before === undefined || LANES.indexOf(lane) < LANES.indexOf(before)) this.dirty.set(key, lane);
      return;
    }
    // Already waiting in this lane or an earlier one: nothing to do; in a later one: moved up.
    for (const waiting of LANES) {
      if (!this.ready[waiting].has(key)) continue;
      if (LANES.indexOf(waiting) <= LANES.indexOf(lane)) return;
      this.ready[waiting].delete(key);
    }
    this.ready[lane].add(key);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    delayMs = Math.min(delayMs, WorkQueue.MAX_DELAY_MS);
    const due = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { due, timer });
  }

  get length(): number {
    return LANES.reduce((sum, lane) => sum + this.ready[lane].size, 0);
  }

  /** Resolves when nothing is queued or running (delayed adds aside). */
  idle(): Promise<void> {
    if (this.length === 0 && this.running === 0) return Promise.resolve();
    return this.idleWaiters.wait();
  }

  /**
   * Takes no more work and resolves once the reconciles in flight have finished (or after `graceMs`,
   * when one hangs): the manager lets go of the Lease only then, so that two writers never overlap.
   */
  async drain(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const lane of LANES) this.ready[lane].clear();
    this.dirty.clear();
    if (this.running === 0) return;
    await this.idleWaiters.wait(graceMs);
  }

  private next(): string | undefined {
    for (const lane of LANES) {
      for (const key of this.ready[lane]) {
        this.ready[lane].delete(key);
        return key;
      }
    }
    return undefined;
  }

  private pump(): void {
    while (!this.stopped && this.length > 0) {
      // A user's change may take one of USER_WORKERS more workers: it never waits for a slow write to end.
      const limit = this.options.workers + (this.ready.user.size > 0 ? USER_WORKERS : 0);
      if (this.running >= limit) break;
      const key = this.next() as string;
      this.active.add(key);
      this.running += 1;
      void this.work(key);
    }
    if (this.length === 0 && this.running === 0) this.idleWaiters.release();
  }

  private async work(key: string): Promise<void> {
    let retryInMs: number | undefined;
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) retryInMs = result.requeueAfterMs;
    } catch (error) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      const base = this.options.baseBackoffMs ?? 50;
      retryInMs = Math.min(base * 2 ** (failures - 1), this.options.maxBackoffMs ?? 30_000);
      this.onError(key, error, retryInMs);
    } finally {
      this.active.delete(key);
      this.running -= 1;
    }
    const rerun = this.dirty.get(key);
    if (rerun !== undefined) {
      this.dirty.delete(key);
      this.add(key, rerun);
    }
    if (retryInMs !== undefined) this.addAfter(key, retryInMs);
    this.pump();
    if (this.stopped && this.running === 0) this.idleWaiters.release();
  }
}
