import { hostname } from "node:os";
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Deployment,
  type V1Service,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { annotationsOf } from "../contract/deployment.js";
import { ENABLED_LABEL, ENABLED_VALUE, TRACK_LABEL, UserKey } from "../contract/keys.js";
import type { SpecOptions } from "../contract/spec.js";
import { OWNER_LABEL } from "../plan/objects.js";
import { createRouter, type RouterChoice } from "../routers/factory.js";
import { EventRecorder } from "./events.js";
import { Executor } from "./executor.js";
import { SupervisedInformer } from "./informers.js";
import { describeApiError, makeKube } from "./kube.js";
import { DEFAULT_LEASE, LeaderElector, type LeaderOptions } from "./leader.js";
import { WorkQueue } from "./queue.js";
import { type GateRunners, Reconciler } from "./reconciler.js";

export interface WatcherOptions {
  config: KubeConfig;
  logger: Logger;
  router: RouterChoice;
  specOptions: SpecOptions;
  gates: GateRunners;
  workers?: number;
  /** Every enabled Deployment is reconciled at least this often, whatever the watches say. */
  resyncMs?: number;
  /** Leader election; absent: this process writes alone. */
  leaderElection?: Partial<LeaderOptions> & { namespace: string };
}

export interface RunningWatcher {
  isLeader(): boolean;
  stop(): Promise<void>;
}

const key = (object: { metadata?: { namespace?: string; name?: string } }, name = object.metadata?.name) =>
  `${object.metadata?.namespace ?? ""}/${name ?? ""}`;

/** Informers feed keys to the queue; the queue runs the reconciler; only the leader starts any of it. */
export async function startWatcher(options: WatcherOptions): Promise<RunningWatcher> {
  const { config, logger } = options;
  const kube = makeKube(config);
  const router = await createRouter(config, options.router);
  logger.info({ router: router.api }, "traffic router chosen");

  let queue: WorkQueue | undefined;
  const enqueue = (k: string) => queue?.add(k);

  const deployments = new SupervisedInformer<V1Deployment>(
    config,
    "deployments",
    "/apis/apps/v1/deployments",
    () => kube.apps.listDeploymentForAllNamespaces({ labelSelector: `${ENABLED_LABEL}=${ENABLED_VALUE}` }),
    // A delete here is also a Deployment whose label was removed: reconcile finds out which.
    (deployment) => enqueue(key(deployment)),
    logger,
    `${ENABLED_LABEL}=${ENABLED_VALUE}`,
  );
  const canaries = new SupervisedInformer<V1Deployment>(
    config,
    "canaries",
    "/apis/apps/v1/deployments",
    () => kube.apps.listDeploymentForAllNamespaces({ labelSelector: `${TRACK_LABEL}=canary,${OWNER_LABEL}` }),
    (canary) => enqueue(key(canary, canary.metadata?.labels?.[OWNER_LABEL])),
    logger,
    `${TRACK_LABEL}=canary,${OWNER_LABEL}`,
  );
  /** Every enabled Deployment in the namespace that routes through the apex Service `service`. */
  const enqueueRoutingThrough = (namespace: string | undefined, service: string | undefined) => {
    for (const deployment of deployments.list(namespace)) {
      const name = deployment.metadata?.name ?? "";
      if ((annotationsOf(deployment)[UserKey.service] ?? name) === service) enqueue(key(deployment));
    }
  };
  const services = new SupervisedInformer<V1Service>(
    config,
    "services",
    "/api/v1/services",
    () => kube.core.listServiceForAllNamespaces(),
    (service) => {
      const owner = service.metadata?.labels?.[OWNER_LABEL];
      if (owner) return enqueue(key(service, owner));
      enqueueRoutingThrough(service.metadata?.namespace, service.metadata?.name);
    },
    logger,
  );
  // Someone else's edit of a traffic split is seen at once and put right by the next reconcile.
  const { group, version, plural } = router.resource;
  const customObjects = config.makeApiClient(CustomObjectsApi);
  const routes = new SupervisedInformer<KubernetesObject>(
    config,
    "routes",
    `/apis/${group}/${version}/${plural}`,
    () =>
      customObjects.listClusterCustomObject({ group, version, plural }) as Promise<
        KubernetesListObject<KubernetesObject>
      >,
    (route) => enqueueRoutingThrough(route.metadata?.namespace, route.metadata?.name),
    logger,
  );

  const caches = { canaries, services, routes };
  const executor = new Executor(kube, router, new EventRecorder(kube, logger), logger, caches);
  const reconciler = new Reconciler({
    kube,
    router,
    executor,
    caches,
    logger,
    specOptions: options.specOptions,
    gates: options.gates,
  });

  let resync: NodeJS.Timeout | undefined;
  const informers = [services, routes, canaries, deployments];
  const startWork = async () => {
    queue = new WorkQueue(
      async (k) => reconciler.reconcile(k),
      { workers: options.workers ?? 4 },
      (k, error, retryInMs) =>
        logger.warn(
          { deployment: k, retryInMs, error: describeApiError(error) },
          "reconcile failed; retrying",
        ),
    );
    // Caches first, so the first reconciles see the canaries and Services that exist.
    for (const informer of informers) await informer.start();
    for (const deployment of deployments.list()) enqueue(key(deployment));
    resync = setInterval(() => {
      for (const deployment of deployments.list()) enqueue(key(deployment));
    }, options.resyncMs ?? 60_000);
    resync.unref();
    logger.info("watcher started");
  };

  const stopWork = async () => {
    clearInterval(resync);
    queue?.stop();
    queue = undefined;
    await Promise.all(informers.map((informer) => informer.stop()));
  };

  let elector: LeaderElector | undefined;
  if (options.leaderElection) {
    elector = new LeaderElector(
      kube,
      {
        ...DEFAULT_LEASE,
        name: "serin-watcher",
        identity: `${hostname()}-${process.pid}`,
        ...options.leaderElection,
      },
      logger,
    );
    elector.run(
      () => {
        startWork().catch((error: unknown) => {
          logger.fatal({ err: error }, "watcher failed to start");
          process.exit(1);
        });
      },
      () => {
        // Another replica may already be writing: stop at once, as controller-runtime does.
        logger.fatal("leadership lost; exiting so that only the leader writes");
        process.exit(1);
      },
    );
  } else {
    await startWork();
  }

  return {
    isLeader: () => (elector ? elector.isLeader : true),
    stop: async () => {
      await stopWork();
      await elector?.stop();
    },
  };
}
