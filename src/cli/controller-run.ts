import { collectDefaultMetrics, Registry } from "prom-client";
import { startWebhookServer } from "../admission/server.js";
import { PrometheusClient } from "../analysis/prometheus.js";
import { defaultCertNames } from "../config.js";
import { allowlistPolicy } from "../contract/test-urls.js";
import { createLogger } from "../log.js";
import { packageVersion } from "../version.js";
import { type RunningWatcher, startWatcher } from "../watch/watcher.js";
import type { ControllerFlags, Part } from "./controller.js";
import { loadKubeConfig } from "./kubeconfig.js";

/**
 * Starts the parts of `serin run|webhook|watch` and stops them in order on SIGTERM or SIGINT: the
 * webhook stops taking connections and answers the reviews in flight, the watcher finishes its
 * reconciles and hands the Lease back; then the process ends with 0.
 */
export async function runParts(parts: Part[], flags: ControllerFlags): Promise<void> {
  const logger = createLogger(flags.logLevel);
  const templates = new Map(flags.metricTemplate);
  const testUrlPolicy = allowlistPolicy(flags.testHost);
  const specOptions = { testUrlPolicy, metricTemplates: [...templates.keys()] };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const close of stops)
      await close().catch((error: unknown) => logger.warn({ err: error }, "stopping"));
  };
  // Taken from the start: a SIGTERM while the watcher's caches fill still ends in order, with 0.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down");
    stopAll().finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);

  // One registry: the webhook serves the watcher's metrics beside its own on /metrics.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let watcher: RunningWatcher | undefined;
  if (parts.includes("webhook")) {
    // First, so that /readyz answers (503) while the watcher starts and its caches fill.
    const server = await startWebhookServer({
      listen: flags.listen,
      certDir: flags.certDir,
      certNames: defaultCertNames(flags.listen, flags.certDns),
      logger: logger.child({ component: "webhook" }),
      registry,
      mutate: { spec: specOptions },
      // It listens only once its certificate is loaded; ready once the watcher's caches have synced
      // too (or it is a healthy standby).
      isReady: () => (parts.includes("watch") ? (watcher?.isReady() ?? false) : true),
    });
    stops.push(() => server.close());
  }
  if (parts.includes("watch")) {
    const duration = flags.leaseDuration;
    try {
      watcher = await startWatcher({
        config: loadKubeConfig(flags.kubeconfig),
        logger: logger.child({ component: "watcher" }),
        router: flags.router,
        specOptions,
        gates: {
          prometheus: new PrometheusClient(flags.prometheusUrl),
          templates,
          scrapeIntervalMs: flags.scrapeInterval,
          testUrlPolicy,
        },
        workers: flags.workers,
        namespaces: flags.watchNamespace,
        registry,
        version: packageVersion(),
        // The only place that ends the process: a replica that is not sure to be the only writer leaves.
        onFatal: (reason) => {
          logger.fatal({ reason }, "watcher stopped; exiting");
          process.exit(1);
        },
        ...(flags.leaderElect
          ? {
              leaderElection: {
                namespace: flags.leaseNamespace,
                name: flags.leaseName,
                leaseDurationMs: duration,
                renewDeadlineMs: Math.round(duration * (2 / 3)),
                retryPeriodMs: Math.max(200, Math.round(duration * (2 / 15))),
              },
            }
          : {}),
      });
    } catch (error) {
      await stopAll();
      throw error;
    }
    const running = watcher;
    stops.push(() => running.stop());
  }
}
