import { homedir } from "node:os";
import type { KubernetesObject } from "@kubernetes/client-node";
import { formatDuration } from "../contract/duration.js";
import * as cluster from "../localcluster/index.js";
import { describeStatus } from "./canary-commands.js";
import { followCanary } from "./follow.js";

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`\n${bold(`▸ ${text}`)}\n`);
const show = (text: string) => process.stdout.write(text.replace(/^/gm, "    ").replace(/ +$/, ""));

function app(image: string, stepInterval: string): string {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      labels: { app: "web", "serin.dev/canary": "enabled" },
      annotations: { "serin.dev/steps": "0.1,10,50", "serin.dev/step-interval": stepInterval },
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
  say(
    "Starting a local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one fake Node), built from their Go modules",
  );
  const cacheRoot = options.cache.replace(/^~(?=\/|$)/, homedir());
  const cp = await cluster.startControlPlane({ cacheRoot });
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
    /** Prints serin's status at every change of the Deployment or its split, until the phase is one of `until`. */
    const follow = async (until: string[], timeoutMs = 120_000) => {
      let last = "";
      await followCanary(
        cp.kubeConfig(),
        {
          namespace: "default",
          name: "web",
          splitCollection: "/apis/split.smi-spec.io/v1alpha2/namespaces/default/trafficsplits",
          splitName: "web",
        },
        ({ deployment, split }) => {
          const backends = (split as { spec?: { backends?: { weight?: unknown }[] } } | undefined)?.spec
            ?.backends;
          const [stable = "-", canary = "-"] = (backends ?? []).map((backend) => String(backend.weight));
          const text = `${describeStatus(deployment, split as KubernetesObject | undefined)}TrafficSplit web: web-stable ${stable}, web-canary ${canary} (out of 10000)\n`;
          if (text !== last) {
            show(`\n${text}`);
            last = text;
          }
          return until.includes(/^phase:\s+(\S+)/m.exec(text)?.[1] ?? "");
        },
        timeoutMs,
      );
    };

    await cluster.installCrds(cp, ["trafficsplit-linkerd-smi"]);
    show("SMI TrafficSplit CRD installed as linkerd-smi ships it.\n");
    say(
      "Starting serin: the webhook (registered through a MutatingWebhookConfiguration over TLS) and the watcher",
    );
    const webhook = await cluster.startSerinWebhook(cp);
    await cluster.registerWebhook(cp, { port: webhook.port, caBundle: webhook.caBundle });
    const watcher = await cluster.startSerinWatcher(cp);
    await watcher.waitForLog("watcher started");

    say("A service owner ships v1 with `kubectl apply`, opted in with the label serin.dev/canary=enabled");
    await kubectl(["apply", "-f", "-"], app("registry.example/web:1.0.0", interval));
    await follow(["Idle"]);

    say(
      `v2 ships the same way; the webhook holds it back and serin canaries it: 0.1%, 10%, 50%, ${interval} each`,
    );
    await kubectl(["apply", "-f", "-"], app("registry.example/web:2.0.0", interval));
    await follow(["Succeeded", "Aborted"]);
    await kubectl([
      "get",
      "deployment",
      "-o",
      "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image",
    ]);
    say("The Deployment controller rolls v2 out to the primary's own pods, as for any rolling update");
    await kubectl(["rollout", "status", "deployment/web", "--timeout=120s"]);
    await kubectl([
      "get",
      "pods",
      "-o",
      "custom-columns=POD:.metadata.name,TRACK:.metadata.labels.serin\\.dev/track,IMAGE:.spec.containers[0].image,PHASE:.status.phase",
    ]);

    say("v3 ships, and at its first step the owner aborts it with `serin abort web` (an annotation)");
    await kubectl(["apply", "-f", "-"], app("registry.example/web:3.0.0", interval));
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
    await kubectl([
      "get",
      "deployment",
      "-o",
      "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image",
    ]);

    say("What `kubectl describe deployment web` shows as events");
    await kubectl([
      "get",
      "events",
      "--field-selector",
      "involvedObject.name=web",
      "-o",
      "custom-columns=REASON:.reason,MESSAGE:.message",
    ]);

    if (options.keep) {
      say(
        `The control plane keeps running. Try: KUBECONFIG=${cp.adminKubeconfig} kubectl get deploy,svc,trafficsplit`,
      );
      show("Press Ctrl-C to stop it.\n");
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
    say(
      "Done: v2 promoted through exact weights, v3 rolled back to stable at once. Stopping the control plane.",
    );
  } finally {
    await cp.stop();
  }
}
