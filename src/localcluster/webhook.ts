// serin's admission webhook as a child process (the compiled CLI, `serin webhook`), and its
// registration on a local control plane, waited for until the apiserver actually calls it.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AdmissionregistrationV1Api,
  ApiException,
  AppsV1Api,
  CoreV1Api,
  type V1MutatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { judgeProbeAnswer, webhookProbeDeployment } from "../cli/check-webhook.js";
import type { ControlPlane } from "./control-plane.js";
import { httpGet } from "./http.js";
import {
  forgetTempDir,
  freePort,
  type ProcessExit,
  removeOnExit,
  type ServerProcess,
  spawnServer,
  startOrphanGuard,
  tailFile,
  waitFor,
} from "./processes.js";

export interface SerinWebhook {
  port: number;
  /** PEM of the CA the webhook generated for its serving certificate. */
  caBundle: string;
  /**
   * Stops the process and removes its cert dir; the control plane's `stop()` does this too. The
   * registration, if any, stays.
   */
  stop(): Promise<void>;
  /** SIGTERM, then how the process ended (SIGKILL after `graceMs`, which a clean shutdown never needs). */
  terminate(graceMs?: number): Promise<ProcessExit>;
  /** How the process ended; undefined while it runs. */
  exited(): ProcessExit | undefined;
  /** What the process wrote so far, one line each (JSON log lines, plus anything on stderr). */
  logs(): string[];
}

export interface SerinWebhookOptions {
  /** `serin webhook` (the default) or `serin run`, the webhook and the watcher in one process. */
  command?: "webhook" | "run";
  /** Extra arguments, e.g. `["--test-host", "*"]` (`serin run` needs `--kubeconfig`). */
  args?: readonly string[];
  /** Resolve once `/readyz` answers 200 (the default), or once the process answers at all (`/livez`). */
  waitFor?: "ready" | "listening";
  readyTimeoutMs?: number;
}

/** The compiled `serin` command beside this module (dist/src/cli/main.js). */
export const serinCli = fileURLToPath(new URL("../cli/main.js", import.meta.url));

/**
 * Starts `serin webhook` (or `serin run`) on a free loopback port with a fresh cert dir; resolves once
 * `/readyz` answers 200, or `/livez` with `waitFor: "listening"`.
 */
export async function startSerinWebhook(
  cp: ControlPlane,
  options: SerinWebhookOptions = {},
): Promise<SerinWebhook> {
  if (!existsSync(serinCli)) throw new Error(`${serinCli} is missing: build first with npm run build`);
  const dir = await mkdtemp(join(tmpdir(), "serin-webhook-"));
  removeOnExit(dir);
  const stopGuard = startOrphanGuard(dir);
  const certDir = join(dir, "certs");
  const logFile = join(dir, "webhook.log");
  const command = options.command ?? "webhook";
  const probe = options.waitFor === "listening" ? "/livez" : "/readyz";

  let webhook: ServerProcess | undefined;
  let port = 0;
  let caBundle = "";
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await rm(certDir, { recursive: true, force: true });
      webhook = spawnServer(
        `serin ${command}`,
        process.execPath,
        [
          "--enable-source-maps",
          serinCli,
          command,
          "--listen",
          `127.0.0.1:${port}`,
          "--cert-dir",
          certDir,
          ...(options.args ?? []),
        ],
        { logFile, pidFile: join(dir, "webhook.pid") },
      );
      const current = webhook;
      try {
        await waitFor(
          async () => {
            caBundle = await readFile(join(certDir, "ca.crt"), "utf8");
            return (await httpGet(`https://127.0.0.1:${port}${probe}`, { ca: caBundle })).status === 200
              ? true
              : undefined;
          },
          { timeoutMs: options.readyTimeoutMs ?? 20_000, what: `serin ${command} ${probe} on port ${port}` },
          () => {
            const exit = current.exited();
            if (exit) {
              throw new Error(
                `serin ${command} ${exit.error ?? `exited with ${exit.signal ?? `code ${exit.code}`}`}; last lines of ${logFile}:\n${tailFile(logFile)}`,
              );
            }
          },
        );
        break;
      } catch (error) {
        await current.stop(0);
        if (attempt >= 3 || !/EADDRINUSE/.test(tailFile(logFile))) throw error;
      }
    }
  } catch (error) {
    stopGuard();
    await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
    throw error;
  }

  const running = webhook;
  let stopping: Promise<void> | undefined;
  const started: SerinWebhook = {
    port,
    caBundle,
    logs() {
      try {
        return readFileSync(logFile, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
    stop() {
      stopping ??= (async () => {
        await running.stop();
        stopGuard();
        await rm(dir, { recursive: true, force: true });
        forgetTempDir(dir);
      })();
      return stopping;
    },
    async terminate(graceMs = 30_000) {
      await running.stop(graceMs);
      await started.stop();
      return running.exited() as ProcessExit;
    },
    exited: () => running.exited(),
  };
  cp.onStop(() => started.stop());
  return started;
}

export const WEBHOOK_CONFIGURATION = "serin";
export const WEBHOOK_NAME = "deployments.serin.dev";
/** Where `registerWebhook` dry-runs a Deployment to see that the webhook is in effect. */
export const PROBE_NAMESPACE = "serin-webhook-probe";

export interface WebhookRegistration {
  port: number;
  caBundle: string;
  failurePolicy?: "Fail" | "Ignore";
  timeoutMs?: number;
}

/** The MutatingWebhookConfiguration the chart installs, pointed at a webhook on this machine. */
export function webhookConfiguration(registration: WebhookRegistration): V1MutatingWebhookConfiguration {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        clientConfig: {
          url: `https://127.0.0.1:${registration.port}/mutate`,
          caBundle: Buffer.from(registration.caBundle).toString("base64"),
        },
        rules: [
          {
            apiGroups: ["apps"],
            apiVersions: ["v1"],
            resources: ["deployments"],
            operations: ["CREATE", "UPDATE"],
          },
        ],
        objectSelector: { matchLabels: { "serin.dev/canary": "enabled" } },
        namespaceSelector: {
          matchExpressions: [
            {
              key: "kubernetes.io/metadata.name",
              operator: "NotIn",
              values: ["serin-system", "kube-system"],
            },
          ],
        },
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 5,
        failurePolicy: registration.failurePolicy ?? "Fail",
        matchPolicy: "Equivalent",
        reinvocationPolicy: "Never",
      },
    ],
  };
}

/**
 * Creates (or replaces) the `serin` MutatingWebhookConfiguration, then waits until the apiserver uses it:
 * the apiserver loads configurations asynchronously, so a dry-run create of a labelled Deployment is
 * repeated until the answer carries the webhook's `serin.dev/track: stable` pod label.
 */
export async function registerWebhook(cp: ControlPlane, registration: WebhookRegistration): Promise<void> {
  const config = cp.kubeConfig();
  const admission = config.makeApiClient(AdmissionregistrationV1Api);
  const body = webhookConfiguration(registration);
  try {
    await admission.createMutatingWebhookConfiguration({ body });
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) throw error;
    const current = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION });
    body.metadata = { ...body.metadata, resourceVersion: current.metadata?.resourceVersion };
    await admission.replaceMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION, body });
  }

  try {
    await config.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: PROBE_NAMESPACE } } });
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) throw error;
  }

  const apps = config.makeApiClient(AppsV1Api);
  await waitFor(
    async () => {
      const created = await apps.createNamespacedDeployment({
        namespace: PROBE_NAMESPACE,
        body: webhookProbeDeployment(),
        dryRun: "All",
      });
      const problem = judgeProbeAnswer(created);
      if (problem) throw new Error(problem);
      return true;
    },
    {
      timeoutMs: registration.timeoutMs ?? 30_000,
      intervalMs: 200,
      what: "the serin webhook to be in effect",
    },
  );
}

/** Deletes the `serin` MutatingWebhookConfiguration (absent is fine). */
export async function unregisterWebhook(cp: ControlPlane): Promise<void> {
  try {
    await cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({
      name: WEBHOOK_CONFIGURATION,
    });
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 404) throw error;
  }
}
