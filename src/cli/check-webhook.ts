// `serin check-webhook`: does the apiserver get serin's answer for a Deployment that opts in? A
// server-side dry-run create of such a Deployment goes through the whole path a real change takes (the
// MutatingWebhookConfiguration, its Service and caBundle, a replica's TLS and /mutate) and stores nothing.
// The chart's `helm test` runs it.
import type { V1Deployment } from "@kubernetes/client-node";
import { Command } from "commander";
import { ConfigError } from "../config.js";
import { parseDuration } from "../contract/duration.js";
import { CliError } from "./exit.js";
import { kubeconfigOption, parsedOption, textOption } from "./options.js";

/** A Deployment that opts in, for dry runs: serin's answer adds `serin.dev/track: stable` to its pods. */
export function webhookProbeDeployment(): V1Deployment {
  const labels = { app: "serin-webhook-probe" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "serin-webhook-probe", labels: { ...labels, "serin.dev/canary": "enabled" } },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "probe", image: "registry.invalid/probe:1" }] },
      },
    },
  };
}

/** What the answer to a dry-run create of the probe Deployment says about the webhook. */
export function judgeProbeAnswer(created: V1Deployment): string | undefined {
  const track = created.spec?.template.metadata?.labels?.["serin.dev/track"];
  return track === "stable"
    ? undefined
    : `the Deployment came back without serin's pod label serin.dev/track (${track ?? "unset"}): the webhook was not called`;
}

/** `--timeout`: from 1s to 10m, the longest a `helm test` should wait. */
function parseCheckTimeout(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1_000 || ms > 600_000)
    throw new ConfigError(`${flag} "${text}" is not a duration from 1s to 10m such as 30s or 2m`);
  return ms;
}

export function checkWebhookCommand(): Command {
  return new Command("check-webhook")
    .description("dry-run a Deployment that opts in and check that serin's webhook answered (helm test)")
    .addOption(
      textOption("-n, --namespace <ns>", "namespace of the dry run (one the webhook covers)", "default"),
    )
    .addOption(kubeconfigOption())
    .addOption(
      parsedOption("--timeout <duration>", "keep trying this long, from 1s to 10m", parseCheckTimeout, "60s"),
    )
    .action(async (flags: { namespace: string; kubeconfig?: string; timeout: number }) => {
      const [{ AppsV1Api }, { loadKubeConfig }] = await Promise.all([
        import("@kubernetes/client-node"),
        import("./kubeconfig.js"),
      ]);
      const apps = loadKubeConfig(flags.kubeconfig).makeApiClient(AppsV1Api);
      const deadline = Date.now() + flags.timeout;
      let last = "";
      for (;;) {
        try {
          const created = await apps.createNamespacedDeployment({
            namespace: flags.namespace,
            body: webhookProbeDeployment(),
            dryRun: "All",
          });
          const problem = judgeProbeAnswer(created);
          if (!problem) {
            process.stdout.write(`serin's webhook answered a dry-run Deployment in ${flags.namespace}\n`);
            return;
          }
          last = problem;
        } catch (error) {
          last = (error as { body?: { message?: string } }).body?.message ?? (error as Error).message;
        }
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      throw new CliError(`serin's webhook did not answer within ${flags.timeout / 1000}s: ${last}`);
    });
}
