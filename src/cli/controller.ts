import { Command } from "commander";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { startWebhookServer } from "../admission/server.js";
import { PrometheusClient } from "../analysis/prometheus.js";
import {
  defaultCertNames,
  type HostPort,
  type LogLevel,
  parseDurationFlag,
  parseHostPort,
  parseLogLevel,
  parseMetricTemplate,
  parsePositiveInt,
  parseRouter,
  parseUrl,
} from "../config.js";
import { parseDuration } from "../contract/duration.js";
import { allowlistPolicy } from "../contract/test-urls.js";
import { createLogger } from "../log.js";
import type { RouterChoice } from "../routers/factory.js";
import { type RunningWatcher, startWatcher } from "../watch/watcher.js";
import { loadKubeConfig } from "./kubeconfig.js";
import { collect, flag } from "./options.js";

/** `serin run`, `serin webhook`, `serin watch`: one set of flags, parsed once. */
interface ControllerFlags {
  kubeconfig?: string;
  listen: HostPort;
  certDir: string;
  certDns: string[];
  testHost: string[];
  metricTemplate: [string, string][];
  metricsWindow: number;
  prometheusUrl: URL;
  router: RouterChoice;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDuration: number;
  workers: number;
  logLevel: LogLevel;
}

type Part = "webhook" | "watch";

function command(name: string, description: string, parts: Part[]): Command {
  const cmd = new Command(name).description(description);
  cmd
    .option(
      "--log-level <level>",
      "trace, debug, info, warn, error",
      flag(parseLogLevel, "--log-level"),
      "info" as LogLevel,
    )
    .option(
      "--test-host <pattern>",
      'host allowed for test gates ("*.example", "*"); default cluster-local only',
      collect,
      [],
    )
    .option(
      "--metric-template <name=promql>",
      "a named PromQL check for serin.dev/analysis ({{ namespace }}, {{ deployment }}, {{ service }}, {{ interval }}); repeatable",
      (text: string, previous: [string, string][]) => [
        ...previous,
        flag(parseMetricTemplate, "--metric-template")(text),
      ],
      [] as [string, string][],
    );
  if (parts.includes("webhook")) {
    cmd
      .option(
        "--listen <host:port>",
        "address to serve HTTPS on",
        flag(parseHostPort, "--listen"),
        parseHostPort("0.0.0.0:8443", "--listen"),
      )
      .option(
        "--cert-dir <dir>",
        "folder with tls.crt and tls.key; a CA and certificate are generated when empty",
        "certs",
      )
      .option("--cert-dns <name>", "extra DNS name for a generated certificate (repeatable)", collect, []);
  }
  if (parts.includes("watch")) {
    cmd
      .option("--kubeconfig <file>", "kubeconfig to use; default: KUBECONFIG, ~/.kube/config or in-cluster")
      .option(
        "--prometheus-url <url>",
        "Prometheus that holds the Linkerd metrics",
        flag(parseUrl, "--prometheus-url"),
        new URL("http://prometheus.linkerd-viz.svc:9090"),
      )
      .option(
        "--metrics-window <duration>",
        "shortest range the metric queries take rate() over",
        flag(parseDurationFlag(parseDuration), "--metrics-window"),
        60_000,
      )
      .option(
        "--router <api>",
        "auto, smi, smi/v1alpha1..4, httproute, httproute/<group>",
        flag(parseRouter, "--router"),
        { kind: "auto" } as RouterChoice,
      )
      .option("--leader-elect", "elect a leader on a Lease so several replicas can run", false)
      .option("--lease-namespace <ns>", "namespace of the leader Lease", "serin-system")
      .option("--lease-name <name>", "name of the leader Lease", "serin-watcher")
      .option(
        "--lease-duration <duration>",
        "how long a leader's Lease holds",
        flag(parseDurationFlag(parseDuration), "--lease-duration"),
        15_000,
      )
      .option("--workers <n>", "Deployments reconciled in parallel", flag(parsePositiveInt, "--workers"), 4);
  }
  return cmd.action(async (flags: ControllerFlags) => {
    const logger = createLogger(flags.logLevel);
    await runParts(parts, flags, logger);
  });
}

async function runParts(parts: Part[], flags: ControllerFlags, logger: Logger): Promise<void> {
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
    });
    stops.unshift(() => server.close());
  }
  const stop = () => {
    logger.info("shutting down");
    Promise.all(stops.map((close) => close())).finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

export function controllerCommands(): Command[] {
  return [
    command("run", "the webhook and the watcher in one process (what the chart runs)", ["webhook", "watch"]),
    command("webhook", "the mutating admission webhook alone (POST /mutate, /healthz, /readyz, /metrics)", [
      "webhook",
    ]),
    command("watch", "the watcher alone: turns pending revisions into canaries behind the traffic split", [
      "watch",
    ]),
  ];
}
