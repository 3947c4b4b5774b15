// serin in the comparison: `serin run` (webhook and watcher in one process), as its chart runs it
// (`--workers 16 --leader-elect`), as serin's service account with the chart's RBAC, the gate's loopback
// host allowed with --test-host.
import { execFileSync } from "node:child_process";
import {
  type ControlPlane,
  registerWebhook,
  repoRoot,
  serinCli,
  startSerinWebhook,
} from "../../src/localcluster/index.js";
import { deploymentManifest, serviceManifest } from "../../test/fixtures/manifests.js";
import { findPid } from "../lib/proc.js";
import type { AppState, Contender } from "./contender.js";

const JSON_PATCH = "application/json-patch+json";
const MERGE_PATCH = "application/merge-patch+json";
const TEST_HOST = ["--test-host", "127.0.0.1"];
const ACCOUNT = { namespace: "serin-system", name: "serin" };

/** The namespace and the RBAC of serin's chart (`templates/rbac.yaml`), rendered by helm. */
async function chartRbac(cp: ControlPlane): Promise<void> {
  const created = await cp.kubectl(["create", "namespace", ACCOUNT.namespace]);
  if (created.code !== 0) throw new Error(`namespace ${ACCOUNT.namespace}: ${created.stderr.trim()}`);
  const chart = `${repoRoot}/charts/serin`;
  const args = ["template", "serin", chart, "-n", ACCOUNT.namespace, "--show-only", "templates/rbac.yaml"];
  const rendered = await cp.helm(3, args);
  if (rendered.code !== 0) throw new Error(`helm template: ${rendered.stderr.trim()}`);
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: rendered.stdout });
  if (applied.code !== 0) throw new Error(`serin's RBAC: ${applied.stderr.trim()}`);
}

interface Labelled {
  metadata?: { labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
}

/** The commit the benchmark runs (serin is this repository's build), marked when src/ has local changes. */
function commit(): string {
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", repoRoot, ...args], { encoding: "utf8" }).trim();
  try {
    const changed = git("status", "--porcelain", "--untracked-files=no", "--", "src") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${changed ? "+local changes" : ""}`;
  } catch {
    return "outside git";
  }
}

export const serin: Contender = {
  id: "serin",
  title: "serin",
  version: commit(),
  concurrency: { flag: "--workers", default: 16 },
  serviceAccount: ACCOUNT,
  settings: "`serin run --leader-elect --test-host 127.0.0.1` (the chart's command), info logging",
  async install(cp) {
    await chartRbac(cp);
  },
  async start(cp, options) {
    const kubeconfig = await cp.serviceAccountKubeconfig(ACCOUNT.namespace, ACCOUNT.name);
    const run = await startSerinWebhook(cp, {
      command: "run",
      args: [
        "--kubeconfig",
        kubeconfig,
        "--leader-elect",
        "--lease-namespace",
        ACCOUNT.namespace,
        ...TEST_HOST,
        ...(options.concurrency === undefined ? [] : ["--workers", String(options.concurrency)]),
        ...options.extraArgs,
      ],
      readyTimeoutMs: 60_000,
    });
    await registerWebhook(cp, { port: run.port, caBundle: run.caBundle });
    const pid = findPid(
      "serin run",
      (argv) => argv.includes(serinCli) && argv.includes("run") && argv.includes(`127.0.0.1:${run.port}`),
    );
    return { pids: () => [pid], stop: () => run.stop() };
  },
  namespaceObjects: () => [],
  appObjects(app, spec) {
    const annotations = {
      "serin.dev/steps": spec.steps.join(","),
      "serin.dev/step-interval": spec.holdAtFirstStep ? "1h" : `${spec.stepSeconds}s`,
      "serin.dev/tests": spec.gate.url("gate", app.namespace, app.name),
    };
    return [
      JSON.parse(serviceManifest(app.name, app.namespace)),
      JSON.parse(deploymentManifest({ ...app, annotations, replicas: 1, image: spec.image })),
    ];
  },
  ship: (app, image) => ({
    method: "PATCH",
    path: `/apis/apps/v1/namespaces/${app.namespace}/deployments/${app.name}`,
    body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: image }],
    contentType: JSON_PATCH,
  }),
  backends: (app) => ({ stableService: `${app.name}-stable`, canaryService: `${app.name}-canary` }),
  stateWatch: { path: "/apis/apps/v1/deployments", labelSelector: "serin.dev/canary=enabled" },
  state(object, image): AppState {
    const deployment = object as Labelled;
    const phase = deployment.metadata?.labels?.["serin.dev/phase"];
    const running = deployment.spec?.template?.spec?.containers?.[0]?.image;
    if (phase === "Idle") return "ready";
    // The webhook holds the new template back until promotion copies it onto the Deployment.
    if (phase === "Succeeded") return running === image ? "promoted" : "ready";
    if (phase === "Aborted") return "failed";
    return phase ? "progressing" : "other";
  },
  async triggerRollback(app, { raw }) {
    await raw.send(
      "PATCH",
      `/apis/apps/v1/namespaces/${app.namespace}/deployments/${app.name}`,
      { metadata: { annotations: { "serin.dev/action": "abort" } } },
      MERGE_PATCH,
    );
  },
  async rearm(app, _trial, { raw }) {
    await raw.send(
      "PATCH",
      `/apis/apps/v1/namespaces/${app.namespace}/deployments/${app.name}`,
      { metadata: { annotations: { "serin.dev/action": "retry" } } },
      MERGE_PATCH,
    );
  },
};
