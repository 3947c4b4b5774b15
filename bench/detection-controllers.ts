import { AppsV1Api, setHeaderOptions } from "@kubernetes/client-node";
import { keepWatching } from "../src/localcluster/keep-watching.js";
import type { RouteWatch } from "../src/localcluster/linkerd-metrics.js";
import type { VersionSpec } from "../src/localcluster/traffic-model.js";
import { readTrafficSplitWeights } from "../src/routers/smi.js";
import { JSON_PATCH } from "../src/watch/kube.js";
import { startCanaryCluster } from "../test/e2e/journey.js";
import { deploymentManifest, serviceManifest } from "../test/fixtures/manifests.js";
import { type ControlPlane, type SerinWatcher, startSerinWatcher } from "../test/harness/index.js";
import { ANALYSIS, type Phase } from "./detection-scenarios.js";

/**
 * The canary controllers the detection benchmark can run side by side on one cluster. Each brings its
 * own objects for an app, ships a new version, names the split the traffic model follows, and says how
 * each canary ended: serin here, Flagger (its Canary objects, `<name>-primary` Deployment and its own
 * TrafficSplit backends) in detection-flagger.ts, each with its own namespaces in the same run.
 */
export interface AppRef {
  namespace: string;
  name: string;
}

export type CanaryEnd = "rolled back" | "promoted";

export interface CanaryController {
  readonly name: string;
  /** The splits this controller writes, for the traffic model and for the benchmark's own WATCH. */
  readonly routes: RouteWatch;
  /**
   * Starts the controller for these namespaces (it must leave every other namespace alone), judging
   * canaries on the Prometheus at `prometheusUrl`.
   */
  start(namespaces: readonly string[], prometheusUrl: string): Promise<void>;
  /** The split's name and which backend and Deployment is which version. */
  route(app: AppRef): {
    service: string;
    stable: Omit<VersionSpec, "behaviour">;
    canary: Omit<VersionSpec, "behaviour">;
  };
  /** Whether the app is set up and waits for a release (its split exists at stable 100%). */
  ready(app: AppRef): boolean;
  /** Ships the new version: the canary starts. */
  ship(app: AppRef): Promise<void>;
  /** How the app's canary ended, once it has. */
  ended(app: AppRef): CanaryEnd | undefined;
  /** Why, in the controller's words (for a table of reasons). */
  reason(app: AppRef): string | undefined;
  stop(): Promise<void>;
}

/** What an arm's canaries run in one phase. */
export interface Release {
  /** The arm's cell in the table, when the phase needs more than the arm's title (its own steps). */
  title?: string;
  /** The user's objects of an app before its first release, as JSON manifests. */
  manifests(app: AppRef): unknown[];
  /** The longest a healthy canary may take from its ship to its promotion; later, it is unsettled. */
  settleSeconds: number;
}

/** A controller with its settings: one set of rows in the table. */
export interface Arm {
  id: string;
  title: string;
  controller: CanaryController;
  /** Canaries per bad scenario, and healthy ones, per phase. */
  counts: { bad: number; healthy: number };
  /** What the arm runs for the phase's steps, or why it cannot run them at all. */
  release(phase: Phase): Release | { notPossible: string };
}

/** The new version every controller ships, in the first container's image as `kubectl set image` does. */
export const V2 = "registry.example/web:2.0.0";

export async function shipImage(apps: AppsV1Api, app: AppRef, image = V2): Promise<void> {
  await apps.patchNamespacedDeployment(
    {
      name: app.name,
      namespace: app.namespace,
      body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: image }],
    },
    setHeaderOptions("Content-Type", JSON_PATCH),
  );
}

/** What every serin watcher on the cluster shares: the webhook, serin's RBAC and service account. */
export interface SerinInstall {
  kubeconfig: string;
}

export async function installSerin(cp: ControlPlane): Promise<SerinInstall> {
  await startCanaryCluster(cp);
  return { kubeconfig: await cp.serviceAccountKubeconfig("serin-system", "serin") };
}

interface Metadata {
  namespace?: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** serin: the opt-in label and annotations on a plain Deployment; state in labels and on the split. */
export class SerinController implements CanaryController {
  readonly routes: RouteWatch = {
    path: "/apis/split.smi-spec.io/v1alpha4/trafficsplits",
    read: readTrafficSplitWeights,
  };
  private watcher: SerinWatcher | undefined;
  private readonly stopWatches: (() => void)[] = [];
  private readonly phases = new Map<string, string>();
  private readonly messages = new Map<string, string>();
  private readonly apps: AppsV1Api;

  /**
   * `cli`: another build's main.js (a baseline); `args`: extra flags for `serin watch`.
   */
  constructor(
    readonly name: string,
    private readonly cp: ControlPlane,
    private readonly install: SerinInstall,
    private readonly options: { cli?: string; args?: readonly string[]; logLevel?: string } = {},
  ) {
    this.apps = cp.kubeConfig().makeApiClient(AppsV1Api);
  }

  async start(namespaces: readonly string[], prometheusUrl: string): Promise<void> {
    const config = this.cp.kubeConfig();
    const ours = (object: unknown) => {
      const metadata = (object as { metadata?: Metadata }).metadata ?? {};
      return namespaces.includes(metadata.namespace ?? "") ? metadata : undefined;
    };
    const deployments = { labelSelector: "serin.dev/canary=enabled" };
    this.stopWatches.push(
      await keepWatching(config, "/apis/apps/v1/deployments", deployments, (_type, object) => {
        const metadata = ours(object);
        const phase = metadata?.labels?.["serin.dev/phase"];
        if (phase) this.phases.set(`${metadata?.namespace}/${metadata?.name}`, phase);
      }),
      // serin's message (why the last transition happened) is on the split it owns.
      await keepWatching(config, this.routes.path, {}, (_type, object) => {
        const metadata = ours(object);
        const message = metadata?.annotations?.["serin.dev/message"];
        if (message) this.messages.set(`${metadata?.namespace}/${metadata?.name}`, message);
      }),
    );
    this.watcher = await startSerinWatcher(this.cp, {
      kubeconfig: this.install.kubeconfig,
      name: this.name,
      ...(this.options.cli ? { cli: this.options.cli } : {}),
      args: [
        "--lease-namespace",
        "serin-system",
        "--log-level",
        this.options.logLevel ?? "info",
        "--prometheus-url",
        prometheusUrl,
        ...namespaces.flatMap((namespace) => ["--watch-namespace", namespace]),
        ...(this.options.args ?? []),
      ],
    });
    await this.watcher.waitForLog("watcher started", 60_000);
  }

  manifests(app: AppRef, annotations: Record<string, string>): unknown[] {
    return [
      JSON.parse(serviceManifest(app.name, app.namespace)),
      JSON.parse(deploymentManifest({ name: app.name, namespace: app.namespace, annotations, replicas: 1 })),
    ];
  }

  /** The phase's steps and the benchmark's checks as annotations, with the arm's own beside them. */
  release(phase: Phase, annotations: Record<string, string>): Release {
    const all = { "serin.dev/steps": phase.steps, "serin.dev/analysis": ANALYSIS, ...annotations };
    return {
      manifests: (app) => this.manifests(app, all),
      // A step ends on a check after its 1m interval, then the promotion.
      settleSeconds: phase.steps.split(",").length * 60 + 150,
    };
  }

  route(app: AppRef) {
    return {
      service: app.name,
      stable: { deployment: app.name, backend: `${app.name}-stable` },
      canary: { deployment: `${app.name}-canary`, backend: `${app.name}-canary` },
    };
  }

  ready(app: AppRef): boolean {
    return this.phases.get(`${app.namespace}/${app.name}`) === "Idle";
  }

  ship(app: AppRef): Promise<void> {
    return shipImage(this.apps, app);
  }

  ended(app: AppRef): CanaryEnd | undefined {
    const phase = this.phases.get(`${app.namespace}/${app.name}`);
    return phase === "Aborted" ? "rolled back" : phase === "Succeeded" ? "promoted" : undefined;
  }

  reason(app: AppRef): string | undefined {
    return this.messages.get(`${app.namespace}/${this.route(app).service}`);
  }

  async stop(): Promise<void> {
    for (const stop of this.stopWatches) stop();
    await this.watcher?.stop();
  }
}
