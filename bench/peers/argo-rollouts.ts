// Argo Rollouts in the comparison: cmd/rollouts-controller with SMI traffic routing, which writes a
// TrafficSplit (the API version given by --traffic-split-api-version) between the stable and canary
// Services the Rollout names. Each app is a Rollout carrying the same pod template as the others'
// Deployment, its apex Service and the two Services Argo Rollouts points at the stable and canary pods;
// each step's gate is an inline analysis step whose web metric calls the gate.
import { deploymentManifest, serviceManifest } from "../../test/fixtures/manifests.js";
import type { PeerBinary } from "./binaries.js";
import type { AppState, Contender } from "./contender.js";
import { grantClusterAdmin, startPeerProcess } from "./peer-process.js";

const JSON_PATCH = "application/json-patch+json";
const MERGE_PATCH = "application/merge-patch+json";
const GROUP_VERSION = "argoproj.io/v1alpha1";
const TRAFFIC_SPLIT_VERSION = "v1alpha1";

interface RolloutObject {
  metadata?: { generation?: number };
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    phase?: string;
    abort?: boolean;
    stableRS?: string;
    currentPodHash?: string;
    observedGeneration?: string;
  };
}

const rolloutPath = (namespace: string, name: string) =>
  `/apis/${GROUP_VERSION}/namespaces/${namespace}/rollouts/${name}`;

export function argoRollouts(peer: PeerBinary): Contender {
  // Leader election is on by default, with its Lease in the controller's own namespace.
  const account = { namespace: "argo-rollouts", name: "argo-rollouts" };
  return {
    id: "argo-rollouts",
    title: "Argo Rollouts",
    version: `v${peer.version.replace(/^v/, "")}`,
    concurrency: { flag: "--rollout-threads", default: 10 },
    serviceAccount: account,
    settings:
      `\`--traffic-split-api-version ${TRAFFIC_SPLIT_VERSION}\`, every other flag at its default ` +
      "(`--qps 40 --burst 80 --analysis-threads 30 --leader-elect`, log level info)",
    async install(cp) {
      const applied = await cp.kubectl(["apply", "--server-side", "-k", peer.crds]);
      if (applied.code !== 0) throw new Error(`Argo Rollouts' CRDs: ${applied.stderr.trim()}`);
    },
    async start(cp, options) {
      const kubeconfig = await grantClusterAdmin(cp, account);
      return startPeerProcess(
        cp,
        "rollouts-controller",
        peer.binary,
        ([metricsPort, healthzPort]) => [
          "--kubeconfig",
          kubeconfig,
          "--traffic-split-api-version",
          TRAFFIC_SPLIT_VERSION,
          "--metricsPort",
          String(metricsPort),
          "--healthzPort",
          String(healthzPort),
          ...(options.concurrency === undefined ? [] : ["--rollout-threads", String(options.concurrency)]),
          ...options.extraArgs,
        ],
        options.logFile,
        /Started controller/,
      );
    },
    namespaceObjects(namespace, spec) {
      return [
        {
          apiVersion: GROUP_VERSION,
          kind: "AnalysisTemplate",
          metadata: { name: "gate", namespace },
          spec: {
            args: [{ name: "app" }],
            metrics: [
              {
                name: "gate",
                successCondition: "result == true",
                provider: {
                  web: {
                    url: spec.gate.url("gate", namespace, "{{args.app}}"),
                    jsonPath: "{$.ok}",
                    timeoutSeconds: 10,
                  },
                },
              },
            ],
          },
        },
      ];
    },
    appObjects(app, spec) {
      const deployment = JSON.parse(
        deploymentManifest({ ...app, enabled: false, replicas: 1, image: spec.image }),
      ) as { spec: Record<string, unknown> };
      const gateStep = {
        analysis: { templates: [{ templateName: "gate" }], args: [{ name: "app", value: app.name }] },
      };
      const steps = spec.holdAtFirstStep
        ? [{ setWeight: spec.steps[0] }, { pause: {} }]
        : spec.steps.flatMap((weight) => [
            { setWeight: weight },
            { pause: { duration: `${spec.stepSeconds}s` } },
            gateStep,
          ]);
      const service = (name: string) => {
        const object = JSON.parse(serviceManifest(app.name, app.namespace)) as { metadata: { name: string } };
        object.metadata.name = name;
        return object;
      };
      return [
        service(app.name),
        service(`${app.name}-stable`),
        service(`${app.name}-canary`),
        {
          apiVersion: GROUP_VERSION,
          kind: "Rollout",
          metadata: { name: app.name, namespace: app.namespace },
          spec: {
            replicas: deployment.spec.replicas,
            selector: deployment.spec.selector,
            template: deployment.spec.template,
            strategy: {
              canary: {
                stableService: `${app.name}-stable`,
                canaryService: `${app.name}-canary`,
                trafficRouting: { smi: { rootService: app.name, trafficSplitName: app.name } },
                steps,
              },
            },
          },
        },
      ];
    },
    ship: (app, image) => ({
      method: "PATCH",
      path: rolloutPath(app.namespace, app.name),
      body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: image }],
      contentType: JSON_PATCH,
    }),
    backends: (app) => ({ stableService: `${app.name}-stable`, canaryService: `${app.name}-canary` }),
    stateWatch: { path: `/apis/${GROUP_VERSION}/rollouts` },
    state(object, image): AppState {
      const rollout = object as RolloutObject;
      const status = rollout.status ?? {};
      const observed = status.observedGeneration === String(rollout.metadata?.generation);
      if (status.abort) return "failed";
      if (!observed || !status.phase) return "other";
      const settled = status.phase === "Healthy" && status.stableRS === status.currentPodHash;
      const running = rollout.spec?.template?.spec?.containers?.[0]?.image;
      if (settled) return image !== undefined && running === image ? "promoted" : "ready";
      return status.phase === "Degraded" ? "failed" : "progressing";
    },
    async triggerRollback(app, { raw }) {
      // What `kubectl argo rollouts abort` sends.
      await raw.send(
        "PATCH",
        `${rolloutPath(app.namespace, app.name)}/status`,
        { status: { abort: true } },
        MERGE_PATCH,
      );
    },
    async rearm(app, _trial, { raw }) {
      // What `kubectl argo rollouts retry rollout` sends: the canary starts again from the first step.
      await raw.send(
        "PATCH",
        `${rolloutPath(app.namespace, app.name)}/status`,
        { status: { abort: false } },
        MERGE_PATCH,
      );
    },
  };
}
