import { Command, Option } from "commander";
import {
  DEFAULT_WORKERS,
  type HostPort,
  LOG_LEVELS,
  type LogLevel,
  parseHostPort,
  parseLogLevel,
  parseMetricTemplate,
  parseNamespaceName,
  parsePositiveInt,
  parseRouter,
  parseScrapeInterval,
  parseUrl,
  ROUTER_FLAG_NAMES,
} from "../config.js";
import type { RouterChoice } from "../routers/factory.js";
import {
  collect,
  completeWith,
  durationOption,
  flag,
  kubeconfigOption,
  parsedOption,
  textOption,
} from "./options.js";

/** `serin run`, `serin webhook`, `serin watch`: one set of flags, parsed once. */
export interface ControllerFlags {
  kubeconfig?: string;
  listen: HostPort;
  certDir: string;
  certDns: string[];
  testHost: string[];
  metricTemplate: [string, string][];
  scrapeInterval: number;
  prometheusUrl: URL;
  router: RouterChoice;
  leaderElect?: boolean;
  leaseNamespace: string;
  watchNamespace: string[];
  leaseName: string;
  leaseDuration: number;
  workers: number;
  logLevel: LogLevel;
}

export type Part = "webhook" | "watch";

function command(name: string, description: string, parts: Part[]): Command {
  const cmd = new Command(name).description(description);
  cmd
    .addOption(
      completeWith(parsedOption("--log-level <level>", LOG_LEVELS.join(", "), parseLogLevel, "info"), {
        kind: "words",
        words: LOG_LEVELS,
      }),
    )
    .addOption(
      new Option("--test-host <pattern>", 'host allowed for test gates ("*.example", "*"); repeatable')
        .argParser(collect)
        .default([], "cluster-local Service hosts only"),
    )
    .addOption(
      new Option(
        "--metric-template <name=promql>",
        "a named PromQL check for serin.dev/analysis ({{ namespace }}, {{ deployment }}, {{ service }}, {{ interval }}); repeatable",
      )
        .argParser((text: string, previous: [string, string][]) => [
          ...previous,
          flag(parseMetricTemplate, "--metric-template")(text),
        ])
        .default([] as [string, string][], "none"),
    );
  if (parts.includes("webhook")) {
    cmd
      .addOption(
        parsedOption("--listen <host:port>", "address to serve HTTPS on", parseHostPort, "0.0.0.0:8443"),
      )
      .addOption(
        completeWith(
          textOption(
            "--cert-dir <dir>",
            "folder with tls.crt and tls.key; a CA and certificate are generated when empty",
            "certs",
          ),
          { kind: "directories" },
        ),
      )
      .addOption(
        new Option("--cert-dns <name>", "extra DNS name for a generated certificate; repeatable")
          .argParser(collect)
          .default([], "none"),
      );
  }
  if (parts.includes("watch")) {
    cmd
      .addOption(kubeconfigOption())
      .addOption(
        parsedOption(
          "--prometheus-url <url>",
          "Prometheus that holds the Linkerd metrics",
          parseUrl,
          "http://prometheus.linkerd-viz.svc:9090",
        ),
      )
      .addOption(
        parsedOption(
          "--scrape-interval <duration>",
          "how often Prometheus scrapes the proxies; each check's window is the analysis interval plus this",
          parseScrapeInterval,
          "10s",
        ),
      )
      .addOption(
        completeWith(
          parsedOption(
            "--router <api>",
            "auto, smi, smi/v1alpha1..4, httproute, httproute/<group>",
            parseRouter,
            "auto",
          ),
          { kind: "words", words: ROUTER_FLAG_NAMES },
        ),
      )
      .option("--leader-elect", "elect a leader on a Lease so several replicas can run")
      .addOption(
        new Option(
          "--watch-namespace <ns>",
          "watch only this namespace (repeatable; the chart's watchNamespaces)",
        )
          .argParser((text: string, previous: string[]) => [
            ...previous,
            flag(parseNamespaceName, "--watch-namespace")(text),
          ])
          .default([], "every namespace"),
      )
      .addOption(textOption("--lease-namespace <ns>", "namespace of the leader Lease", "serin-system"))
      .addOption(textOption("--lease-name <name>", "name of the leader Lease", "serin-watcher"))
      .addOption(durationOption("--lease-duration <duration>", "how long a leader's Lease holds", "15s"))
      .addOption(
        parsedOption(
          "--workers <n>",
          "Deployments reconciled in parallel",
          parsePositiveInt,
          String(DEFAULT_WORKERS),
        ),
      );
  }
  return cmd.action(async (flags: ControllerFlags) => {
    // Loaded only here: the operator's commands start without the webhook's and the watcher's modules.
    const { runParts } = await import("./controller-run.js");
    await runParts(parts, flags);
  });
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
