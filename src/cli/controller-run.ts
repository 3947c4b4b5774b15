import { collectDefaultMetrics, Registry } from "prom-client";
import { startWebhookServer } from "../admission/server.js";
import { PrometheusClient } from "../analysis/prometheus.js";
import { defaultCertNames } from "../config.js";
import { allowlistPolicy } from "../contract/test-urls.js";
import { createLogger } from "../log.js";
import { type RunningWatcher, startWatcher } from "../watch/watcher.js";
import type { ControllerFlags, Part } from "./controller.js";
import { loadKubeConfig } from "./kubeconfig.js";

/** Starts the parts of `serin run|webhook|watch` and stops them in order on SIGTERM or SIGINT. */
export async function runParts(parts: Part[], flags: ControllerFlags): Promise<void> {
  const logger = createLogger(flags.logLevel);
  const templates = new Map(flags.metricTemplate);
  const testUrlPolicy = allowlistPolicy(flags.testHost);
  const specOptions = { testUrlPolicy, metricTemplates: [...templates.keys()] };
  const stops: (() => Promise<void>)[] = [];
  let watcher: RunningWatcher | undefined;
  if (parts.includes("watch")) {
    const duration = flags.leaseDuration;
    watcher = await startWatcher({
      config: loadKubeConfig(flags.kubeconfig),
      logger: logger.child({ component: "watcher" }),
      router: flags.router,
      specOptions,
      gates: {
        prometheus: new PrometheusClient(flags.prometheusUrl),
        templates,
        metricsWindowMs: flags.metricsWindow,
        testUrlPolicy,
      },
      workers: flags.workers,
      namespaces: flags.watchNamespace,
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
    stops.push(() => watcher?.stop() ?? Promise.resolve());
  }
  if (parts.includes("webhook")) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const server = await startWebhookServer({
      listen: flags.listen,
      certDir: flags.certDir,
      certNames: defaultCertNames(flags.listen, flags.certDns),
      logger: logger.child({ component: "webhook" }),
      registry,
      mutate: { spec: specOptions },
      // Ready once the watcher's caches have synced (or it is a healthy standby) and the certificate is loaded.
      isReady: () => watcher?.isReady() ?? true,
    });
    stops.unshift(() => server.close());
  }
  // In order: the webhook stops taking connections and finishes its reviews, the watcher finishes its
  // reconciles and hands the Lease back; then the process ends.
  const stop = () => {
    logger.info("shutting down");
    (async () => {
      for (const close of stops)
        await close().catch((error: unknown) => logger.warn({ err: error }, "stopping"));
    })().finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
