import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { formatDuration } from "../contract/duration.js";
import * as cluster from "../localcluster/index.js";
import { type LinkerdMetrics, startLinkerdMetrics } from "../localcluster/linkerd-metrics.js";
import { PROMETHEUS_BINARY, type Prometheus, startPrometheus } from "../localcluster/prometheus.js";
import type { CanaryView } from "./canary-view.js";
import type { Cluster } from "./cluster.js";
import type { Screen } from "./screen.js";
import { watchStatus } from "./status-run.js";

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`\n${bold(`▸ ${text}`)}\n`);
const show = (text: string) => process.stdout.write(text.replace(/^/gm, "    ").replace(/ +$/, ""));

/** The status view, indented under the narration; on a terminal it is redrawn in place. */
const indented: Screen = {
  write: (text: string) => process.stdout.write(text),
  isTTY: process.stdout.isTTY,
  columns: process.stdout.columns,
  indent: "    ",
};

const healthy = { requestsPerSecond: 50, successRatio: 1, latencyMs: 20 };

function app(image: string, annotations: Record<string, string>): string {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      labels: { app: "web", "serin.dev/canary": "enabled" },
      annotations,
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "web", image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web" },
    spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
  };
  return `${JSON.stringify(service)}\n${JSON.stringify(deployment)}\n`;
}

export async function runDemo(options: {
  stepInterval: number;
  keep: boolean;
  cache: string;
}): Promise<void> {
  const interval = formatDuration(options.stepInterval);
  const canaried = { "serin.dev/steps": "0.1,10,50", "serin.dev/step-interval": interval };
  say(
    "Starting a local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake Node), built from their Go modules",
  );
  const cacheRoot = options.cache.replace(/^~(?=\/|$)/, homedir());
  const cp = await cluster.startControlPlane({ cacheRoot });
  let metrics: LinkerdMetrics | undefined;
  let prometheus: Prometheus | undefined;
  try {
    const kubectl = async (args: string[], input?: string) => {
      process.stdout.write(`    $ kubectl ${args.join(" ")}\n`);
      const result = await cp.kubectl(args, input === undefined ? {} : { input });
      const warnings = result.stderr
        .split("\n")
        .filter((line) => line.startsWith("Warning: serin"))
        .join("\n");
      show(`${result.stdout}${warnings ? `${warnings}\n` : ""}`);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
    };
    const demoCluster: Cluster = {
      config: cp.kubeConfig(),
      namespace: "default",
      allNamespaces: false,
      server: cp.server,
      origin: `kubeconfig ${cp.adminKubeconfig}`,
      requestTimeoutMs: 30_000,
    };
    /**
     * What `serin status web --watch` shows, at every change of the Deployment, its split or its Events,
     * until `done` says so (by default: the phase is one of `until`, with no action waiting).
     */
    const printedEvents = new Set<string>();
    const follow = async (until: string[], done?: (view: CanaryView) => boolean) => {
      process.stdout.write("    $ serin status web --watch\n");
      await watchStatus(demoCluster, "web", {
        program: "serin",
        screen: indented,
        printedEvents,
        timeoutMs: 120_000,
        until: done ?? ((view) => until.includes(view.phase ?? "") && !view.action),
      });
    };
    const images = () =>
      kubectl([
        "get",
        "deployment",
        "-o",
        "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image",
      ]);

    await cluster.installCrds(cp, ["trafficsplit-linkerd-smi"]);
    show("SMI TrafficSplit CRD installed as linkerd-smi ships it.\n");
    const analysis = existsSync(PROMETHEUS_BINARY);
    if (analysis) {
      say(
        "Starting Prometheus, scraping Linkerd-shaped proxy metrics (response_total) of the demo's pods every 500 ms",
      );
      metrics = await startLinkerdMetrics();
      metrics.setTraffic("default", "web-canary", healthy);
      prometheus = await startPrometheus([metrics.target]);
      show(`Prometheus at ${prometheus.url} (${PROMETHEUS_BINARY}).\n`);
    }
    say(
      "Starting serin: the webhook (registered through a MutatingWebhookConfiguration over TLS) and the watcher",
    );
    const webhook = await cluster.startSerinWebhook(cp);
    await cluster.registerWebhook(cp, { port: webhook.port, caBundle: webhook.caBundle });
    const watcher = await cluster.startSerinWatcher(cp, {
      args: prometheus ? ["--prometheus-url", prometheus.url, "--scrape-interval", "500ms"] : [],
    });
    await watcher.waitForLog("watcher started");

    say("A service owner ships v1 with `kubectl apply`, opted in with the label serin.dev/canary=enabled");
    await kubectl(["apply", "-f", "-"], app("registry.example/web:1.0.0", canaried));
    await follow(["Idle"]);

    say(
      `v2 ships the same way; the webhook holds it back and serin canaries it: 0.1%, 10%, 50%, ${interval} each`,
    );
    await kubectl(["apply", "-f", "-"], app("registry.example/web:2.0.0", canaried));
    await follow(["Succeeded", "Aborted"]);
    await images();
    say("The Deployment controller rolls v2 out to the primary's own pods, as for any rolling update");
    await kubectl(["rollout", "status", "deployment/web", "--timeout=120s"]);
    await kubectl([
      "get",
      "pods",
      "-o",
      "custom-columns=POD:.metadata.name,TRACK:.metadata.labels.serin\\.dev/track,IMAGE:.spec.containers[0].image,PHASE:.status.phase",
    ]);

    say("v3 ships, and at its first step the owner aborts it with `serin abort web` (an annotation)");
    await kubectl(["apply", "-f", "-"], app("registry.example/web:3.0.0", canaried));
    await follow(["Progressing"]);
    process.stdout.write("    $ serin abort web\n");
    const { execFile } = await import("node:child_process");
    const aborted = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [process.argv[1] ?? "", "abort", "web", "--kubeconfig", cp.adminKubeconfig],
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      ),
    );
    show(aborted);
    await follow(["Aborted"]);
    await images();

    if (metrics) {
      const held = formatDuration(options.stepInterval * 4);
      say(
        `v4 ships with a metric check, success-rate>=99, run every ${interval} on Prometheus; 10% then 50%, ${held} each; one failed check tolerated`,
      );
      await kubectl(
        ["apply", "-f", "-"],
        app("registry.example/web:4.0.0", {
          "serin.dev/steps": "10,50",
          "serin.dev/step-interval": held,
          "serin.dev/analysis": "success-rate>=99",
          "serin.dev/analysis-interval": interval,
          "serin.dev/failure-limit": "1",
        }),
      );
      await follow([], (view) => view.phase === "Progressing" && view.state?.lastAnalysis === "pass");
      say("v4's error rate rises: 20% of the canary's responses fail. Nobody touches anything");
      metrics.setTraffic("default", "web-canary", { ...healthy, successRatio: 0.8 });
      await follow(["Aborted"]);
      await images();
    } else {
      say(
        `Skipping the analysis part (a canary rolled back by its metrics alone): Prometheus is not installed at ${PROMETHEUS_BINARY}`,
      );
      show(
        "To see it: apt-get install prometheus (Debian, Ubuntu), or npm run setup, then serin demo again.\n",
      );
    }

    say("What `kubectl describe deployment web` shows as events");
    await kubectl([
      "get",
      "events",
      "--field-selector",
      "involvedObject.name=web",
      "--sort-by=.lastTimestamp",
      "-o",
      "custom-columns=REASON:.reason,MESSAGE:.message",
    ]);

    if (options.keep) {
      say(
        `The control plane keeps running. Try: KUBECONFIG=${cp.adminKubeconfig} serin list, or kubectl get deploy,svc,trafficsplit`,
      );
      show("Press Ctrl-C to stop it.\n");
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
    say(
      metrics
        ? "Done: v2 promoted through exact weights, v3 rolled back by its owner, v4 by its metrics alone. Stopping the control plane."
        : "Done: v2 promoted through exact weights, v3 rolled back to stable at once. Stopping the control plane.",
    );
  } finally {
    await cp.stop();
    await prometheus?.stop();
    await metrics?.stop();
  }
}
