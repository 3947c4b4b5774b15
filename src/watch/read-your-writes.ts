import type { KubernetesObject } from "@kubernetes/client-node";

/** How long a write of ours may stay ahead of the informer before the informer is trusted again. */
const CATCH_UP_MS = 30_000;

interface Cache<T> {
  get(name: string, namespace?: string): T | undefined;
}

/** Whether resourceVersion `seen` is `mine` or later (etcd revisions are integers; else only equality tells). */
export function caughtUp(seen: string | undefined, mine: string | undefined): boolean {
  if (seen === undefined || mine === undefined) return false;
  if (seen === mine) return true;
  return /^\d+$/.test(seen) && /^\d+$/.test(mine) && BigInt(seen) > BigInt(mine);
}

/**
 * An informer's cache seen through this process's own latest writes. Right after serin writes an
 * object, the informer may still hold the copy from before; reading that would decide from the past
 * (a weight written twice, a step taken again). Until the informer has caught up with the write, the
 * written object is what reads return; a deleted object reads as gone.
 */
export class ReadYourWrites<T extends KubernetesObject> {
  private readonly written = new Map<
    string,
    { object: T | undefined; resourceVersion?: string; at: number }
  >();

  constructor(
    private readonly cache: Cache<T>,
    private readonly clock: () => number = Date.now,
  ) {}

  get(name: string, namespace: string): T | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.cache.get(name, namespace);
    const mine = this.written.get(key);
    if (!mine) return cached;
    const settled =
      mine.object === undefined
        ? cached === undefined
        : caughtUp(cached?.metadata?.resourceVersion, mine.resourceVersion);
    if (settled || this.clock() - mine.at > CATCH_UP_MS) {
      this.written.delete(key);
      return cached;
    }
    return mine.object;
  }

  /** The object as the apiserver answered a write (or a fresh read) of it. */
  remember(object: T): void {
    const name = object.metadata?.name ?? "";
    const namespace = object.metadata?.namespace ?? "";
    this.written.set(`${namespace}/${name}`, {
      object,
      at: this.clock(),
      ...(object.metadata?.resourceVersion ? { resourceVersion: object.metadata.resourceVersion } : {}),
    });
  }

  /** The object was deleted (or found missing): it reads as gone until the informer agrees. */
  forget(name: string, namespace: string): void {
    this.written.set(`${namespace}/${name}`, { object: undefined, at: this.clock() });
  }

  /** How many writes are ahead of the informer (for tests and metrics). */
  get pending(): number {
    return this.written.size;
  }
}
