// Flagger in the comparison: cmd/flagger with -mesh-provider=linkerd, which drives an SMI TrafficSplit
// (v1alpha1) named after the apex Service between `<name>-primary` and `<name>-canary`. Each app is the
// service owner's Deployment plus a Canary; Flagger makes `<name>-primary` and runs the app there.
// The install, the process, an app's objects and the Canary's phase are shared with the detection
// benchmark's Flagger arm (bench/detection-flagger.ts).
import type { ControlPlane } from "../../src/localcluster/index.js";
import { deploymentManifest, serviceManifest } from "../../test/fixtures/manifests.js";
import type { PeerBinary } from "./binaries.js";
import type { App, AppState, Contender, RunningController } from "./contender.js";
import { grantClusterAdmin, startPeerProcess } from "./peer-process.js";

const JSON_PATCH = "application/json-patch+json";

export const FLAGGER_ACCOUNT = { namespace: "flagger-system", name: "flagger" };
/** Where the benchmarks watch Flagger's verdicts (every namespace). */
export const FLAGGER_CANARIES_PATH = "/apis/flagger.app/v1beta1/canaries";

interface CanaryObject {
  status?: { phase?: string };
}

/** The Canary's `status.phase` (Initializing, Initialized, Progressing, ..., Succeeded, Failed). */
export const flaggerPhase = (object: unknown) => (object as CanaryObject).status?.phase;

/** Flagger's Canary, MetricTemplate and AlertProvider CRDs, from its module. */
export async function installFlagger(cp: ControlPlane, peer: PeerBinary): Promise<void> {
  const applied = await cp.kubectl(["apply", "--server-side", "-f", `${peer.crds}/crd.yaml`]);
  if (applied.code !== 0) throw new Error(`Flagger's CRDs: ${applied.stderr.trim()}`);
}

/**
 * Flagger on the Linkerd provider as its own service account, at `-log-level=info` (its chart's; the
 * binary's own default is debug), with `flags` beside; resolves once its workers have started.
 */
export async function startFlagger(
  cp: ControlPlane,
  peer: PeerBinary,
  logFile: string,
  flags: readonly string[],
): Promise<RunningController> {
  const kubeconfig = await grantClusterAdmin(cp, FLAGGER_ACCOUNT);
  return startPeerProcess(
    cp,
    "flagger",
    peer.binary,
    ([port]) => [
      `-kubeconfig=${kubeconfig}`,
      "-mesh-provider=linkerd",
      "-log-level=info",
      `-port=${port}`,
      ...flags,
    ],
    logFile,
    /Started operator workers/,
  );
}

/**
 * An app as a Flagger user writes it: the apex Service, the Deployment, and a Canary of it with
 * `canarySpec` (its `analysis`, and any other field of the Canary's spec).
 */
export function flaggerAppObjects(app: App, image: string | undefined, canarySpec: object): object[] {
  return [
    JSON.parse(serviceManifest(app.name, app.namespace)),
    JSON.parse(
      deploymentManifest({ ...app, enabled: false, replicas: 1, ...(image === undefined ? {} : { image }) }),
    ),
    {
      apiVersion: "flagger.app/v1beta1",
      kind: "Canary",
      metadata: { name: app.name, namespace: app.namespace },
      spec: {
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: app.name },
        service: { port: 80, targetPort: 8080 },
        ...canarySpec,
      },
    },
  ];
}

/** The split's backends Flagger writes: its primary and canary Services. */
export const flaggerBackends = (app: App) => ({
  stableService: `${app.name}-primary`,
  canaryService: `${app.name}-canary`,
});

export function flagger(peer: PeerBinary): Contender {
  return {
    id: "flagger",
    title: "Flagger",
    version: `v${peer.version.replace(/^v/, "")}`,
    concurrency: { flag: "-threadiness", default: 2 },
    serviceAccount: FLAGGER_ACCOUNT,
    settings:
      "`-mesh-provider=linkerd -log-level=info` (its chart's log level; the binary's own default is debug), " +
      "every other flag at its default (`-kubeconfig-qps=100 -kubeconfig-burst=250 -control-loop-interval=10s`)",
    install: (cp) => installFlagger(cp, peer),
    start: (cp, options) =>
      startFlagger(cp, peer, options.logFile, [
        ...(options.concurrency === undefined ? [] : [`-threadiness=${options.concurrency}`]),
        ...options.extraArgs,
      ]),
    namespaceObjects: () => [],
    appObjects(app, spec) {
      const webhooks = [
        {
          name: "gate",
          type: "rollout",
          url: spec.gate.url("gate", app.namespace, app.name),
          timeout: "10s",
        },
        ...(spec.holdAtFirstStep
          ? [
              {
                name: "hold",
                type: "confirm-traffic-increase",
                url: spec.gate.url("hold", app.namespace, app.name),
                timeout: "10s",
              },
            ]
          : []),
      ];
      return flaggerAppObjects(app, spec.image, {
        analysis: {
          interval: `${spec.stepSeconds}s`,
          // Required; 1 rolls back at the first failed gate, as serin and Argo Rollouts do.
          threshold: 1,
          stepWeights: [...spec.steps],
          webhooks,
        },
      });
    },
    ship: (app, image) => ({
      method: "PATCH",
      path: `/apis/apps/v1/namespaces/${app.namespace}/deployments/${app.name}`,
      body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: image }],
      contentType: JSON_PATCH,
    }),
    backends: flaggerBackends,
    stateWatch: { path: FLAGGER_CANARIES_PATH },
    state(object): AppState {
      const phase = flaggerPhase(object);
      if (phase === "Initialized") return "ready";
      if (phase === "Succeeded") return "promoted";
      if (phase === "Failed") return "failed";
      return phase ? "progressing" : "other";
    },
    async triggerRollback(app, { gate }) {
      // Flagger has no abort command: its gate failing is how a canary is stopped.
      gate.failing.add(`${app.namespace}/${app.name}`);
    },
    async rearm(app, attempt, { raw, gate }) {
      gate.failing.delete(`${app.namespace}/${app.name}`);
      // A rolled-back revision stays rolled back: only a new one starts another canary.
      const write = this.ship(app, `registry.example/web:3.0.${attempt}`);
      await raw.send(write.method, write.path, write.body, write.contentType);
    },
  };
}
