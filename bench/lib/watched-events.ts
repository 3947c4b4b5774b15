// A benchmark's own WATCH: every event stamped with its arrival time (wall clock, ms), handed to a listener,
// and to waiters registered before the write they wait for. Restarted whenever the apiserver ends it.
import { performance } from "node:perf_hooks";
import { type KubeConfig, Watch } from "@kubernetes/client-node";

export const wallNow = () => performance.timeOrigin + performance.now();

export interface Meta {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

export type Listener = (type: string, object: Meta, at: number) => void;

interface Waiter {
  match: (object: Meta) => boolean;
  resolve: (at: number) => void;
}

export class WatchedEvents {
  /** Times the apiserver ended the watch and it was started again (events in the gap are missed). */
  restarts = 0;
  private waiters: Waiter[] = [];
  /** "namespace/name" -> the object of its latest event. */
  private readonly latest = new Map<string, Meta>();
  private controller: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly config: KubeConfig,
    private readonly path: string,
    private readonly query: Record<string, string> = {},
    private readonly listener: Listener = () => {},
  ) {}

  async start(): Promise<void> {
    this.controller = await new Watch(this.config).watch(
      this.path,
      this.query,
      (type, object: Meta) => {
        const at = wallNow();
        this.latest.set(`${object.metadata?.namespace}/${object.metadata?.name}`, object);
        this.listener(type, object, at);
        if (this.waiters.length === 0) return;
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.match(object)) return true;
          waiter.resolve(at);
          return false;
        });
      },
      () => {
        if (this.stopped) return;
        this.restarts += 1;
        setTimeout(() => void this.start().catch(() => undefined), 100);
      },
    );
  }

  /** Registers now; resolves with the arrival time of the first later event that matches. */
  next(match: (object: Meta) => boolean, what: string | (() => string), timeoutMs = 30_000): Promise<number> {
    if (this.stopped) return Promise.reject(new Error(`the watch on ${this.path} is stopped`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(
          new Error(`no watch event within ${timeoutMs} ms: ${typeof what === "string" ? what : what()}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The object of the latest event about namespace/name, if any. */
  lastSeen(namespace: string, name: string): Meta | undefined {
    return this.latest.get(`${namespace}/${name}`);
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}
