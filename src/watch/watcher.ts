import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { DEFAULT_WORKERS } from "../config.js";
import type { SpecOptions } from "../contract/spec.js";
import { createRouter, type RouterChoice } from "../routers/factory.js";
import { Controller } from "./controller.js";
import type { GateRunners } from "./gate-jobs.js";
import { makeKube } from "./kube.js";
import { DEFAULT_LEASE, LeaderElector, type LeaderOptions } from "./leader.js";

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
}

export interface RunningWatcher {
  isLeader(): boolean;
  /** Ready: the leader's caches have synced, or this replica is a healthy standby. */
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
      ...(mayWrite ? { mayWrite } : {}),
    });

  if (!options.leaderElection) {
    const controller = controllerOf();
    await controller.start();
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
    isReady: () => (elector.isLeader ? controller.synced : true),
    stop: async () => {
      stopping = true;
      await controller.stop();
      await elector.stop();
    },
  };
}
