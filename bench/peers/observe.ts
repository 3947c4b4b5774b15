// What the benchmark sees of each app through two WATCHes of its own: the canary weight of the app's
// TrafficSplit (every controller's split is read at v1alpha4; the CRD converts none of the fields used)
// and the app's state as its controller reports it. Each change is kept with its arrival time.
import { performance } from "node:perf_hooks";
import { type KubeConfig, Watch } from "@kubernetes/client-node";
import { readTrafficSplitWeights } from "../../src/routers/smi.js";
import { type App, type AppState, appKey, type Contender } from "./contender.js";

export const wallNow = () => performance.timeOrigin + performance.now();

interface Meta {
  metadata?: { name?: string; namespace?: string };
}

export interface Change<T> {
  at: number;
  value: T;
}

export class Observer {
  /** App key -> canary weight (out of 10,000) changes of its split. */
  readonly splits = new Map<string, Change<number>[]>();
  /** App key -> state changes. */
  readonly states = new Map<string, Change<AppState>[]>();
  /** The image shipped last, which tells a promotion from the state before the ship. */
  image: string | undefined;
  watchRestarts = 0;
  private readonly backends = new Map<string, { stableService: string; canaryService: string }>();
  private readonly stops: (() => void)[] = [];
  private waiters: { test: () => boolean; resolve: (at: number) => void }[] = [];

  constructor(
    private readonly config: KubeConfig,
    private readonly contender: Contender,
  ) {}

  track(apps: readonly App[]): void {
    for (const app of apps) this.backends.set(appKey(app), this.contender.backends(app));
  }

  async start(): Promise<void> {
    const { path, labelSelector } = this.contender.stateWatch;
    this.stops.push(
      await this.watch("/apis/split.smi-spec.io/v1alpha4/trafficsplits", {}, (object, at) => {
        const key = keyOf(object);
        const backends = this.backends.get(key);
        if (!backends) return;
        record(this.splits, key, readTrafficSplitWeights(object, backends).canary, at);
      }),
      await this.watch(path, labelSelector ? { labelSelector } : {}, (object, at) => {
        const key = keyOf(object);
        if (!this.backends.has(key)) return;
        record(this.states, key, this.contender.state(object, this.image), at);
      }),
    );
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  canary(key: string): number | undefined {
    return this.splits.get(key)?.at(-1)?.value;
  }

  state(key: string): AppState | undefined {
    return this.states.get(key)?.at(-1)?.value;
  }

  /** Resolves with the arrival time of the first event after which `test` holds (now, if it holds now). */
  when(test: () => boolean, what: string, timeoutMs: number): Promise<number> {
    if (test()) return Promise.resolve(wallNow());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.test !== test);
        reject(new Error(`gave up after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      });
    });
  }

  private settle(at: number): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.test()) return true;
      waiter.resolve(at);
      return false;
    });
  }

  /** A WATCH restarted whenever the apiserver ends it. */
  private async watch(
    path: string,
    query: Record<string, string>,
    onObject: (object: Meta, at: number) => void,
  ): Promise<() => void> {
    let stopped = false;
    let controller: AbortController | undefined;
    const begin = async (): Promise<void> => {
      controller = await new Watch(this.config).watch(
        path,
        query,
        (type, object: Meta) => {
          if (type !== "ADDED" && type !== "MODIFIED") return;
          const at = wallNow();
          onObject(object, at);
          this.settle(at);
        },
        () => {
          if (stopped) return;
          this.watchRestarts += 1;
          setTimeout(() => void begin().catch(() => undefined), 100);
        },
      );
    };
    await begin();
    return () => {
      stopped = true;
      controller?.abort();
    };
  }
}

const keyOf = (object: Meta) => `${object.metadata?.namespace}/${object.metadata?.name}`;

function record<T>(into: Map<string, Change<T>[]>, key: string, value: T, at: number): void {
  let changes = into.get(key);
  if (!changes) {
    changes = [];
    into.set(key, changes);
  }
  if (changes.at(-1)?.value !== value) changes.push({ at, value });
}
