import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { DEFAULT_WORKERS } from "../config.js";
import type { SpecOptions } from "../contract/spec.js";
import { createRouter, type RouterChoice } from "../routers/factory.js";
import { Controller } from "./controller.js";
import type { GateRunners } from "./gate-jobs.js";
import { makeKube } from "./kube.js";
import { DEFAULT_LEASE, LeaderElector, type LeaderOptions } from "./leader.js";
import { WatcherMetrics } from "./watcher-metrics.js";

export type { GateRunners } from "./gate-jobs.js";

export interface WatcherOptions {
  config: KubeConfig;
  logger: Logger;
  router: RouterChoice;
  specOptions: SpecOptions;
  gates: GateRunners;
  /** Deployments reconciled in parallel. */
  workers?: number;
  /** Every enabled Deployment is reconciled at least this often, whatever the watches say. */
  resyncMs?: number;
  /** Watch only these namespaces (the chart's namespaced mode); empty or absent: the whole cluster. */
  namespaces?: readonly string[];
  /** Leader election; absent: this process writes alone. */
  leaderElection?: Partial<LeaderOptions> & { namespace: string };
  /**
   * Called when this replica can no longer be sure it is the only writer (leadership lost) or cannot
   * start: the watcher has already stopped writing. The command exits; library code never does.
   */
  onFatal?: (reason: string) => void;
  /** Where the watcher's metrics are registered (the webhook serves them on /metrics); absent: none. */
  registry?: Registry;
  /** serin's version, for serin_info. */
  version?: string;
  /** How long the informers may take to list everything once; past it the watcher fails to start. */
  cacheSyncTimeoutMs?: number;
}

/** As controller-runtime's default: long enough for a slow apiserver, short enough to be noticed. */
export const DEFAULT_CACHE_SYNC_TIMEOUT_MS = 120_000;

export interface RunningWatcher {
  isLeader(): boolean;
  /**
   * Ready: the leader's caches have synced, or this replica is a standby in good health (it reads the
   * Lease, so it would take over).
   */
  isReady(): boolean;
  /** Stop taking work, let the reconciles in flight finish, then hand the Lease back. */
  stop(): Promise<void>;
}

/**
 * The manager: the lifecycle around the controller. With leader election, only the leader runs the
 * controller; losing the Lease stops it at once. Stopping goes in order: no new work, in-flight
 * reconciles finished (or cut off after a grace period), informers stopped, then the Lease released.
 */
export async function startWatcher(options: WatcherOptions): Promise<RunningWatcher> {
  const { config, logger } = options;
  const kube = makeKube(config);
  const router = await createRouter(config, options.router);
  logger.info({ router: router.api }, "traffic router chosen");
  const fatal = options.onFatal ?? ((reason: string) => logger.fatal(reason));
  let leading: () => boolean = () => true;
  const metrics = options.registry
    ? new WatcherMetrics({
        registry: options.registry,
        version: options.version ?? "unknown",
        router: router.api,
        isLeader: () => leading(),
      })
    : undefined;
  const controllerOf = (mayWrite?: () => boolean) =>
    new Controller({
      kube,
      config,
      router,
      logger,
      specOptions: options.specOptions,
      gates: options.gates,
      workers: options.workers ?? DEFAULT_WORKERS,
      resyncMs: options.resyncMs ?? 60_000,
      namespaces: options.namespaces ?? [],
      cacheSyncTimeoutMs: options.cacheSyncTimeoutMs ?? DEFAULT_CACHE_SYNC_TIMEOUT_MS,
      ...(mayWrite ? { mayWrite } : {}),
      ...(metrics ? { metrics } : {}),
    });

  if (!options.leaderElection) {
    const controller = controllerOf();
    // Started in the background, as a leader's is: readiness says when the caches have filled.
    controller.start().catch(async (error: unknown) => {
      logger.error({ err: error }, "watcher failed to start");
      await controller.stop(0);
      fatal(`the watcher failed to start: ${(error as Error).message}`);
    });
    return { isLeader: () => true, isReady: () => controller.synced, stop: () => controller.stop() };
  }

  const elector = new LeaderElector(
    kube,
    {
      ...DEFAULT_LEASE,
      name: "serin-watcher",
      identity: `${hostname()}-${process.pid}`,
      ...options.leaderElection,
    },
    logger,
  );
  leading = () => elector.isLeader;
  // Every write first asks whether the Lease is surely still this replica's.
  const controller = controllerOf(() => elector.holdsLease());
  let stopping = false;
  elector.run(
    () => {
      controller.start().catch(async (error: unknown) => {
        logger.error({ err: error }, "watcher failed to start");
        await controller.stop(0);
        await elector.stop();
        fatal(`the watcher failed to start: ${(error as Error).message}`);
      });
    },
    () => {
      if (stopping) return;
      // Another replica may already be writing: stop at once, as controller-runtime does.
      logger.error("leadership lost; stopping so that only the leader writes");
      void controller.stop(0).finally(() => fatal("leadership lost"));
    },
  );
  return {
    isLeader: () => elector.isLeader,
    isReady: () => (elector.isLeader ? controller.synced : elector.takesPart()),
    stop: async () => {
      stopping = true;
      await controller.stop();
      await elector.stop();
    },
  };
}
