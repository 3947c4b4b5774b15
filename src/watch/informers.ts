import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from "@kubernetes/client-node";
import type { Logger } from "pino";

/**
 * Drops `metadata.managedFields` from an object about to be cached, as client-go's informers are often
 * set to: serin never reads them, its writes are patches and replaces that leave them as they are
 * (an update without them keeps the stored ones), and on a Deployment they are often the larger half
 * of the object, times every Deployment of the fleet.
 */
export function withoutManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields !== undefined) delete object.metadata.managedFields;
  return object;
}

/**
 * A client-node informer that keeps running. client-node's informers stop on any error other than
 * 410 Gone and do not await their callbacks; this one restarts with backoff and only ever hands keys
 * to the work queue.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private readonly informer;
  private failures = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set by the first list that succeeded: client-node reports "connect" before it lists, and a
   * start whose list failed resolves all the same, so neither tells that the cache is filled. */
  private listed = false;

  constructor(
    config: KubeConfig,
    readonly name: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    onObject: (object: T, verb: "add" | "update" | "delete") => void,
    private readonly logger: Logger,
    labelSelector?: string,
  ) {
    const listed = async () => {
      const objects = await list();
      for (const object of objects.items) withoutManagedFields(object);
      this.listed = true;
      return objects;
    };
    this.informer = makeInformer<T>(config, path, listed, labelSelector);
    // The first handlers on every event: client-node caches the very object it hands them.
    this.informer.on("add", (object) => onObject(withoutManagedFields(object), "add"));
    this.informer.on("update", (object) => onObject(withoutManagedFields(object), "update"));
    this.informer.on("delete", (object) => onObject(object, "delete"));
    this.informer.on("connect", () => {
      this.failures = 0;
    });
    this.informer.on("error", (error) => this.restart(error));
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.informer.start();
  }

  get hasSynced(): boolean {
    return this.listed;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private restart(error: unknown): void {
    if (this.stopped) return;
    this.failures += 1;
    const delayMs = Math.min(500 * 2 ** (this.failures - 1), 30_000);
    this.logger.warn({ err: error, informer: this.name, retryInMs: delayMs }, "watch failed; restarting");
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.informer.start().catch((startError: unknown) => this.restart(startError));
    }, delayMs);
    this.restartTimer.unref();
  }
}

/** One informer per namespace watched (or one for the cluster), read as one cache. */
export class InformerSet<T extends KubernetesObject> {
  private readonly byNamespace: Map<string, SupervisedInformer<T>>;

  /**
   * `make(namespace)` builds the informer of one namespace ("" for the whole cluster); with no
   * namespaces given, one informer watches the cluster.
   */
  constructor(namespaces: readonly string[], make: (namespace: string) => SupervisedInformer<T>) {
    const scopes = namespaces.length > 0 ? [...new Set(namespaces)] : [""];
    this.byNamespace = new Map(scopes.map((namespace) => [namespace, make(namespace)]));
  }

  private informerFor(namespace: string | undefined): SupervisedInformer<T> | undefined {
    return (
      this.byNamespace.get("") ?? (namespace === undefined ? undefined : this.byNamespace.get(namespace))
    );
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informerFor(namespace)?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.informerFor(namespace)?.list(namespace) ?? [];
    return [...this.byNamespace.values()].flatMap((informer) => informer.list());
  }

  get hasSynced(): boolean {
    return [...this.byNamespace.values()].every((informer) => informer.hasSynced);
  }

  /** The informers that have not listed yet, named as "routes" or "routes in shop". */
  unsynced(): string[] {
    return [...this.byNamespace]
      .filter(([, informer]) => !informer.hasSynced)
      .map(([namespace, informer]) => (namespace ? `${informer.name} in ${namespace}` : informer.name));
  }

  async start(): Promise<void> {
    for (const informer of this.byNamespace.values()) await informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.byNamespace.values()].map((informer) => informer.stop()));
  }
}

/**
 * Informers started per namespace on demand and stopped when no longer wanted: for objects serin
 * needs only where something names them (the apex Services of namespaces with enabled Deployments),
 * so the cache holds nothing of namespaces that have no canary.
 */
export class OnDemandInformers<T extends KubernetesObject> {
  private readonly byNamespace = new Map<string, SupervisedInformer<T>>();
  private stopped = false;

  constructor(
    private readonly make: (namespace: string) => SupervisedInformer<T>,
    private readonly logger: Logger,
  ) {}

  /** Starts watching `namespace` unless it is watched already; whether its cache is filled. */
  ensure(namespace: string): boolean {
    if (this.stopped) return false;
    let informer = this.byNamespace.get(namespace);
    if (!informer) {
      const started = this.make(namespace);
      informer = started;
      this.byNamespace.set(namespace, started);
      // A failed list or watch restarts on its own (SupervisedInformer); this only reports it.
      started
        .start()
        .catch((error: unknown) =>
          this.logger.warn({ err: error, namespace, informer: started.name }, "watch did not start"),
        );
    }
    return informer.hasSynced;
  }

  /** Stops the informers of every namespace not in `wanted`. */
  async retain(wanted: ReadonlySet<string>): Promise<void> {
    const unwanted = [...this.byNamespace].filter(([namespace]) => !wanted.has(namespace));
    for (const [namespace] of unwanted) this.byNamespace.delete(namespace);
    await Promise.all(unwanted.map(([, informer]) => informer.stop()));
  }

  /** The namespaces watched now. */
  get namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  get(name: string, namespace: string): T | undefined {
    return this.byNamespace.get(namespace)?.get(name, namespace);
  }

  list(namespace: string): readonly T[] {
    return this.byNamespace.get(namespace)?.list(namespace) ?? [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.retain(new Set());
  }
}
