import { setTimeout as sleep } from "node:timers/promises";
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Deployment,
  type V1Service,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { formatDuration } from "../contract/duration.js";
import { ENABLED_LABEL, ENABLED_VALUE, TRACK_LABEL } from "../contract/keys.js";
import type { SpecOptions } from "../contract/spec.js";
import { OWNER_LABEL } from "../plan/objects.js";
import type { Router } from "../routers/router.js";
import { EventRecorder } from "./events.js";
import { type Caches, Executor } from "./executor.js";
import { GateJobs, type GateRunners } from "./gate-jobs.js";
import { InformerSet, OnDemandInformers, SupervisedInformer } from "./informers.js";
import { describeApiError, type Kube } from "./kube.js";
import { keyOf, ownerKeys, resyncSlot, routingKeys, userInputsOf } from "./mapping.js";
import { type Lane, WorkQueue } from "./queue.js";
import { ReadYourWrites } from "./read-your-writes.js";
import { Reconciler } from "./reconciler.js";
import type { WatcherMetrics } from "./watcher-metrics.js";

export interface ControllerOptions {
  kube: Kube;
  config: KubeConfig;
  router: Router;
  logger: Logger;
  specOptions: SpecOptions;
  gates: GateRunners;
  workers: number;
  /** Every enabled Deployment is reconciled once per period, spread evenly over it. */
  resyncMs: number;
  /** Watch only these namespaces (the chart's namespaced mode); empty: the whole cluster. */
  namespaces: readonly string[];
  /** Asked before every write: false once another replica may be writing (the Lease may have lapsed). */
  mayWrite?: () => boolean;
  /** How long the informers may take to list everything once before the start fails. */
  cacheSyncTimeoutMs: number;
  /** Where reconciles are reported; its per-canary series go when the controller stops. */
  metrics?: WatcherMetrics;
}

/** How often the caches are looked at while waiting for them to fill. */
const SYNC_POLL_MS = 100;

/** How many slices the resync period is cut into: one slice of the fleet is looked at per tick. */
const RESYNC_SLOTS = 60;

/**
 * The controller: informers that map watch events to keys, a three-lane queue, and workers that run the
 * reconciler. It writes only while started; the manager decides when (leadership) and stops it in order.
 */
export class Controller {
  private readonly informers: InformerSet<KubernetesObject>[];
  private readonly deployments: InformerSet<V1Deployment>;
  private readonly apexServices: OnDemandInformers<V1Service>;
  private readonly reconciler: Reconciler;
  private readonly events: EventRecorder;
  private queue: WorkQueue | undefined;
  /** Each enabled Deployment's user inputs as last seen (userInputsOf), to tell a user's change apart. */
  private readonly userInputs = new Map<string, string>();
  private resync: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;

  constructor(private readonly options: ControllerOptions) {
    const { config, kube, logger, router } = options;
    const enqueue = (keys: readonly string[], lane: Lane = "event") => {
      for (const key of keys) this.queue?.add(key, lane);
    };
    const enabled = `${ENABLED_LABEL}=${ENABLED_VALUE}`;
    const scoped = (namespace: string, resource: string, prefix: string) =>
      namespace ? `${prefix}/namespaces/${namespace}/${resource}` : `${prefix}/${resource}`;
    const set = <T extends KubernetesObject>(make: (namespace: string) => SupervisedInformer<T>) =>
      new InformerSet<T>(options.namespaces, make);
    // Deployments are listed as raw JSON: fields client-node's models do not know survive in the cache.
    const deploymentInformer = (
      name: string,
      labelSelector: string,
      onObject: (deployment: V1Deployment, verb: "add" | "update" | "delete") => void,
    ) =>
      set<V1Deployment>((namespace) => {
        const path = scoped(namespace, "deployments", "/apis/apps/v1");
        return new SupervisedInformer<V1Deployment>(
          config,
          name,
          path,
          () =>
            kube.raw.send<KubernetesListObject<V1Deployment>>(
              "GET",
              `${path}?labelSelector=${encodeURIComponent(labelSelector)}`,
            ),
          onObject,
          logger,
          labelSelector,
        );
      });
    // A delete here is also a Deployment whose label was removed: reconcile finds out which.
    // A user's change (an action, a new template, a delete) goes ahead of everything else queued.
    this.deployments = deploymentInformer("deployments", enabled, (deployment, verb) => {
      const key = keyOf(deployment.metadata?.namespace, deployment.metadata?.name);
      const inputs = userInputsOf(deployment);
      const before = this.userInputs.get(key);
      if (verb === "delete") this.userInputs.delete(key);
      else this.userInputs.set(key, inputs);
      const changed = verb === "delete" || (before !== undefined && before !== inputs);
      enqueue([key], changed ? "user" : "event");
    });
    const canaries = deploymentInformer("canaries", `${TRACK_LABEL}=canary,${OWNER_LABEL}`, (canary) =>
      enqueue(ownerKeys(canary)),
    );
    const enabledIn = (namespace: string | undefined) => this.deployments.list(namespace);
    const serviceInformer = (name: string, namespace: string, labelSelector?: string) => {
      const path = scoped(namespace, "services", "/api/v1");
      return new SupervisedInformer<V1Service>(
        config,
        name,
        path,
        () =>
          namespace
            ? kube.core.listNamespacedService({ namespace, labelSelector })
            : kube.core.listServiceForAllNamespaces({ labelSelector }),
        (service) => enqueue(routingKeys(service, enabledIn(service.metadata?.namespace))),
        logger,
        labelSelector,
      );
    };
    // serin's own track Services, by their owner label: a Service of that name that is someone else's
    // is not cached, and creating serin's answers 409 (a collision).
    const trackServices = set<V1Service>((namespace) =>
      serviceInformer("track-services", namespace, OWNER_LABEL),
    );
    // The apex Services: every Service of a namespace that has an enabled Deployment, and only there.
    this.apexServices = new OnDemandInformers<V1Service>(
      (namespace) => serviceInformer("apex-services", namespace),
      logger,
    );
    // serin's own splits, by their owner label; someone else's edit of one is seen at once and put
    // right by the next reconcile. A split of that name that is not serin's answers 409 on create.
    const { group, version, plural } = router.resource;
    const customObjects = config.makeApiClient(CustomObjectsApi);
    const routes = set<KubernetesObject>(
      (namespace) =>
        new SupervisedInformer<KubernetesObject>(
          config,
          "routes",
          scoped(namespace, plural, `/apis/${group}/${version}`),
          () =>
            (namespace
              ? customObjects.listNamespacedCustomObject({
                  group,
                  version,
                  plural,
                  namespace,
                  labelSelector: OWNER_LABEL,
                })
              : customObjects.listClusterCustomObject({
                  group,
                  version,
                  plural,
                  labelSelector: OWNER_LABEL,
                })) as Promise<KubernetesListObject<KubernetesObject>>,
          (route) => enqueue(routingKeys(route, enabledIn(route.metadata?.namespace))),
          logger,
          OWNER_LABEL,
        ),
    );
    this.informers = [trackServices, routes, canaries, this.deployments] as InformerSet<KubernetesObject>[];

    const caches: Caches = {
      deployments: new ReadYourWrites(this.deployments),
      canaries: new ReadYourWrites(canaries),
      trackServices: new ReadYourWrites(trackServices),
      routes: new ReadYourWrites(routes),
    };
    const gates = new GateJobs(options.gates, (key) => this.queue?.add(key), logger);
    this.events = new EventRecorder(kube, logger, options.mayWrite ? { mayWrite: options.mayWrite } : {});
    const executor = new Executor(kube, router, this.events, logger, caches, gates, options.mayWrite);
    this.reconciler = new Reconciler({
      kube,
      router,
      executor,
      caches,
      gates,
      apexServices: {
        get: (name, namespace) => this.apexServices.get(name, namespace),
        ready: (namespace) => this.apexServices.ensure(namespace),
      },
      ownedServices: (namespace, owner) =>
        trackServices.list(namespace).filter((service) => service.metadata?.labels?.[OWNER_LABEL] === owner),
      logger,
      specOptions: options.specOptions,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
  }

  /** Whether every informer has listed once (the caches are worth deciding from). */
  get synced(): boolean {
    return this.started && this.informers.every((informer) => informer.hasSynced);
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    this.stopping = false;
    // Caches first: a reconcile that read a cache not yet listed would take a split for deleted (and
    // abort its canary) or a canary for missing. No work is queued until all have listed once.
    // All at once, and not awaited one by one: a list that hangs is bounded by the sync timeout too.
    let failed: Error | undefined;
    for (const informer of this.informers)
      informer.start().catch((error: unknown) => {
        failed ??= error instanceof Error ? error : new Error(String(error));
      });
    await this.cachesSynced(() => failed);
    if (this.stopping) return;
    const queue = new WorkQueue(
      async (key) => this.reconciler.reconcile(key),
      { workers: this.options.workers },
      (key, error, retryInMs) =>
        logger.warn(
          { deployment: key, retryInMs, error: describeApiError(error) },
          "reconcile failed; retrying",
        ),
    );
    this.queue = queue;
    this.watchApexNamespaces();
    for (const deployment of this.deployments.list()) {
      queue.add(keyOf(deployment.metadata?.namespace, deployment.metadata?.name), "resync");
    }
    let tick = 0;
    this.resync = setInterval(
      () => {
        const slot = tick++ % RESYNC_SLOTS;
        if (slot === 0) this.watchApexNamespaces();
        for (const deployment of this.deployments.list()) {
          const key = keyOf(deployment.metadata?.namespace, deployment.metadata?.name);
          if (resyncSlot(key, RESYNC_SLOTS) === slot) queue.add(key, "resync");
        }
      },
      Math.max(10, Math.round(this.options.resyncMs / RESYNC_SLOTS)),
    );
    this.resync.unref();
    this.started = true;
    logger.info({ workers: this.options.workers }, "watcher started");
  }

  /** Takes no new work, lets the reconciles in flight finish, then stops watching. */
  async stop(graceMs?: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.resync);
    this.started = false;
    await this.queue?.drain(graceMs);
    this.queue = undefined;
    // The story of what was just done, as far as it can be told before the Lease goes.
    await this.events.flush(graceMs === 0 ? 0 : 2_000);
    this.options.metrics?.forgetCanaries();
    await Promise.all([...this.informers, this.apexServices].map((informer) => informer.stop()));
  }

  /**
   * Resolves once every informer has listed (or the controller is stopping); throws past the timeout,
   * or when an informer could not start at all.
   */
  private async cachesSynced(failed: () => Error | undefined): Promise<void> {
    const { cacheSyncTimeoutMs, logger } = this.options;
    const deadline = Date.now() + cacheSyncTimeoutMs;
    let waiting = this.informers.flatMap((informer) => informer.unsynced());
    if (waiting.length > 0) logger.info({ informers: waiting }, "waiting for the caches to fill");
    while (waiting.length > 0 && !this.stopping) {
      const failure = failed();
      if (failure) throw failure;
      if (Date.now() >= deadline) {
        throw new Error(
          `the caches did not fill within ${formatDuration(cacheSyncTimeoutMs)}: ${waiting.join(", ")} could not be listed (see the "watch failed; restarting" warnings for why)`,
        );
      }
      await sleep(SYNC_POLL_MS);
      waiting = this.informers.flatMap((informer) => informer.unsynced());
    }
  }

  /**
   * Apex Services are watched in the namespaces that have enabled Deployments now: started here for
   * each (a reconcile also starts its own namespace's), stopped once a namespace has none left.
   */
  private watchApexNamespaces(): void {
    const wanted = new Set(this.deployments.list().map((deployment) => deployment.metadata?.namespace ?? ""));
    for (const namespace of wanted) this.apexServices.ensure(namespace);
    this.apexServices
      .retain(wanted)
      .catch((error: unknown) =>
        this.options.logger.warn({ err: error }, "stopping an apex Service watch failed"),
      );
  }
}
