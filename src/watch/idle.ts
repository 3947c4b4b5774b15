/**
 * Waiters for "all work done", each also released after a grace period: what a queue needs to stop
 * in order without hanging on a request that never ends.
 */
export class IdleWaiters {
  private waiters: (() => void)[] = [];

  /** Resolves at the next `release()`, or after `graceMs` (if given), whichever comes first. */
  async wait(graceMs?: number): Promise<void> {
    const released = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (graceMs === undefined) return released;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      released,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Releases everyone waiting now. */
  release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
