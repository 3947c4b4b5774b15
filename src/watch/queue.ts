/**
 * A keyed work queue in the manner of client-go's: handlers enqueue keys, never objects; a key is
 * processed by one worker at a time, and a key added while it is being processed runs once more
 * afterwards. Delayed adds keep the earliest due time. Failures back off per key.
 */
export interface QueueOptions {
  workers: number;
  /** First retry delay after a failure; doubles per consecutive failure up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | undefined>;

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler,
    private readonly options: QueueOptions,
    private readonly onError: (key: string, error: unknown, retryInMs: number) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    const pending = this.timers.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
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
    return this.ready.length;
  }

  /** Resolves when nothing is queued or running (delayed adds aside). */
  idle(): Promise<void> {
    if (this.ready.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.workers && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.queued.delete(key);
      this.active.add(key);
      this.running += 1;
      void this.work(key);
    }
    if (this.ready.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
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
    if (this.dirty.delete(key)) this.add(key);
    if (retryInMs !== undefined) this.addAfter(key, retryInMs);
    this.pump();
  }
}
