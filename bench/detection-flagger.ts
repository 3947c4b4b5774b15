import { join } from "node:path";
import { AppsV1Api } from "@kubernetes/client-node";
import { keepWatching } from "../src/localcluster/keep-watching.js";
import type { RouteWatch } from "../src/localcluster/linkerd-metrics.js";
import { readTrafficSplitWeights } from "../src/routers/smi.js";
import type { ControlPlane } from "../test/harness/index.js";
import {
  type AppRef,
  type CanaryController,
  type CanaryEnd,
  type Release,
  shipImage,
} from "./detection-controllers.js";
import type { Phase } from "./detection-scenarios.js";
import type { PeerBinary } from "./peers/binaries.js";
import type { RunningController } from "./peers/contender.js";
import {
  FLAGGER_CANARIES_PATH,
  flaggerAppObjects,
  flaggerBackends,
  flaggerPhase,
  installFlagger,
  startFlagger,
} from "./peers/flagger.js";

/**
 * Flagger as an arm of the detection benchmark: cmd/flagger with `-mesh-provider=linkerd` and
 * `-metrics-server` at the benchmark's Prometheus, each app a Deployment and a Canary at the settings of
 * Flagger's Linkerd tutorial. Flagger makes `<name>-primary` (the stable version, from then on) and
 * runs each new revision on the user's own Deployment `<name>` (the canary), behind an SMI TrafficSplit
 * `<name>` with backends `<name>-primary` and `<name>-canary`, which it writes as split.smi-spec.io/v1alpha1
 * (pkg/router/smi.go; the factory picks it for `linkerd`) with whole-percent quantity weights.
 *
 * Its builtin checks query what the traffic model serves as Linkerd's proxy metrics of the canary:
 * `response_total` and `response_latency_ms_bucket` with `namespace`, `deployment=~"<name>"`,
 * `direction="inbound"` and `classification` (pkg/metrics/observers/linkerd.go).
 */

/**
 * The Canary's settings in Flagger's Linkerd tutorial, docs/gitbook/tutorials/linkerd-progressive-delivery.md
 * of github.com/fluxcd/flagger v1.36.1 (docs.flagger.app/tutorials/linkerd-progressive-delivery). That
 * version of the tutorial routes with Gateway API (`meshProvider=gatewayapi:v1beta1`) and states the two
 * checks as MetricTemplates; their queries are the builtins `request-success-rate` and `request-duration`
 * with `direction="inbound"`, so the builtins are used here, on the SMI router `-mesh-provider=linkerd`
 * (what the tutorial used before). Left out: its pre-rollout acceptance test and its load-test webhook
 * (the model makes the traffic) and its HPA.
 */
export const LINKERD_TUTORIAL = {
  progressDeadlineSeconds: 60,
  intervalSeconds: 30,
  threshold: 5,
  stepWeight: 5,
  maxWeight: 50,
  metrics: [
    { name: "request-success-rate", thresholdRange: { min: 99 }, interval: "1m" },
    { name: "request-duration", thresholdRange: { max: 500 }, interval: "30s" },
  ],
} as const;

const [SUCCESS_RATE, DURATION] = LINKERD_TUTORIAL.metrics;

/** The settings as the benchmark's report states them. */
export const FLAGGER_SETTINGS =
  "Flagger: `-mesh-provider=linkerd` (SMI TrafficSplit v1alpha1), its Linkerd tutorial's Canary: " +
  `\`interval: ${LINKERD_TUTORIAL.intervalSeconds}s\`, \`threshold: ${LINKERD_TUTORIAL.threshold}\`, ` +
  `\`${SUCCESS_RATE.name}\` >= ${SUCCESS_RATE.thresholdRange.min}% over ${SUCCESS_RATE.interval}, ` +
  `\`${DURATION.name}\` <= ${DURATION.thresholdRange.max} ms over ${DURATION.interval}, ` +
  `\`progressDeadlineSeconds: ${LINKERD_TUTORIAL.progressDeadlineSeconds}\`; where each controller runs ` +
  `its own default steps, \`stepWeight: ${LINKERD_TUTORIAL.stepWeight}\` up to ` +
  `\`maxWeight: ${LINKERD_TUTORIAL.maxWeight}\`, otherwise the phase's steps as \`stepWeights\` ` +
  "(whole percents only)";

/** How a Canary's traffic grows: by a step up to a maximum, or through a list of weights (percent). */
export type FlaggerSteps = { stepWeight: number; maxWeight: number } | { stepWeights: number[] };

/**
 * The nearest Flagger comes to a phase's steps. Where every controller runs its own defaults, the
 * tutorial's stepWeight and maxWeight; otherwise the phase's own steps as `stepWeights`. Flagger's
 * weights are whole percents (`[]int`, out of a total of 100), so steps with a fraction of a percent
 * cannot be run at all: no rounding would keep what the phase measures.
 */
export function flaggerSteps(phase: Phase): FlaggerSteps | { notPossible: string } {
  if (phase.defaults) {
    const { stepWeight, maxWeight } = LINKERD_TUTORIAL;
    const limit =
      phase.stepLimit === undefined ? maxWeight : Math.min(maxWeight, stepWeight * phase.stepLimit);
    return { stepWeight, maxWeight: limit };
  }
  const weights = phase.steps.split(",").map(Number);
  const fractions = weights.filter((weight) => !Number.isInteger(weight));
  if (fractions.length > 0)
    return {
      notPossible: `Flagger's weights are whole percents: no step of ${fractions.join(", ")}%`,
    };
  return { stepWeights: weights };
}

const stepCount = (steps: FlaggerSteps) =>
  "stepWeights" in steps ? steps.stepWeights.length : Math.ceil(steps.maxWeight / steps.stepWeight);

const describeSteps = (steps: FlaggerSteps) =>
  "stepWeights" in steps
    ? `stepWeights ${steps.stepWeights.join(",")}`
    : `stepWeight ${steps.stepWeight}, maxWeight ${steps.maxWeight}`;

interface Metadata {
  namespace?: string;
  name?: string;
}

interface CanaryEvent {
  involvedObject?: { namespace?: string; name?: string };
  message?: string;
}

export class FlaggerController implements CanaryController {
  readonly name: string;
  readonly routes: RouteWatch = {
    path: "/apis/split.smi-spec.io/v1alpha1/trafficsplits",
    read: readTrafficSplitWeights,
  };
  private process: RunningController | undefined;
  private readonly stopWatches: (() => void)[] = [];
  private readonly phases = new Map<string, string>();
  /** The last event of each Canary, and its last failed check ("Halt ... advancement ..."). */
  private readonly lastEvents = new Map<string, string>();
  private readonly lastHalts = new Map<string, string>();
  private readonly apps: AppsV1Api;

  constructor(
    private readonly cp: ControlPlane,
    private readonly peer: PeerBinary,
  ) {
    this.name = `Flagger v${peer.version.replace(/^v/, "")}`;
    this.apps = cp.kubeConfig().makeApiClient(AppsV1Api);
  }

  /**
   * Flagger watches Canaries in every namespace (`-namespace` takes one only); it acts on nothing else,
   * and only this arm's namespaces have Canaries.
   */
  async start(namespaces: readonly string[], prometheusUrl: string): Promise<void> {
    await installFlagger(this.cp, this.peer);
    const config = this.cp.kubeConfig();
    const ours = (namespace = "") => namespaces.includes(namespace);
    this.stopWatches.push(
      await keepWatching(config, FLAGGER_CANARIES_PATH, {}, (_type, object) => {
        const { namespace, name } = (object as { metadata?: Metadata }).metadata ?? {};
        const phase = flaggerPhase(object);
        if (ours(namespace) && phase) this.phases.set(`${namespace}/${name}`, phase);
      }),
      // Flagger says why in Events on the Canary (reason "Synced"), not on the object.
      await keepWatching(
        config,
        "/api/v1/events",
        { fieldSelector: "involvedObject.kind=Canary" },
        (type, object) => {
          const { involvedObject = {}, message } = object as CanaryEvent;
          if (type === "DELETED" || !message || !ours(involvedObject.namespace)) return;
          const key = `${involvedObject.namespace}/${involvedObject.name}`;
          this.lastEvents.set(key, message);
          if (message.startsWith("Halt ")) this.lastHalts.set(key, message);
        },
      ),
    );
    this.process = await startFlagger(this.cp, this.peer, join(this.cp.dir, "flagger.log"), [
      `-metrics-server=${prometheusUrl}`,
    ]);
  }

  manifests(app: AppRef, steps: FlaggerSteps): unknown[] {
    const { progressDeadlineSeconds, intervalSeconds, threshold, metrics } = LINKERD_TUTORIAL;
    return flaggerAppObjects(app, undefined, {
      progressDeadlineSeconds,
      analysis: { interval: `${intervalSeconds}s`, threshold, ...steps, metrics },
    });
  }

  release(phase: Phase, title: string): Release | { notPossible: string } {
    const steps = flaggerSteps(phase);
    if ("notPossible" in steps) return steps;
    return {
      title: `${title} (${describeSteps(steps)})`,
      manifests: (app) => this.manifests(app, steps),
      // One tick sees the new revision and scales the canary up, one routes the first step, one per
      // further step, then the promotion, the traffic back to the primary and the finalising; a bad
      // canary is rolled back at the tick after its fifth failed check.
      settleSeconds: (stepCount(steps) + 6) * LINKERD_TUTORIAL.intervalSeconds + 60,
    };
  }

  route(app: AppRef) {
    const { stableService, canaryService } = flaggerBackends(app);
    return {
      service: app.name,
      stable: { deployment: `${app.name}-primary`, backend: stableService },
      canary: { deployment: app.name, backend: canaryService },
    };
  }

  ready(app: AppRef): boolean {
    return this.phases.get(`${app.namespace}/${app.name}`) === "Initialized";
  }

  ship(app: AppRef): Promise<void> {
    return shipImage(this.apps, app);
  }

  ended(app: AppRef): CanaryEnd | undefined {
    const phase = this.phases.get(`${app.namespace}/${app.name}`);
    return phase === "Failed" ? "rolled back" : phase === "Succeeded" ? "promoted" : undefined;
  }

  reason(app: AppRef): string | undefined {
    const key = `${app.namespace}/${app.name}`;
    const last = this.lastEvents.get(key);
    if (last === undefined) return undefined;
    const halt = this.lastHalts.get(key);
    const text = halt === undefined || halt === last ? last : `${last} (last failed check: ${halt})`;
    // Flagger names the canary `<name>.<namespace>`; the table of reasons counts alike messages.
    return text.replaceAll(`${app.name}.${app.namespace}`, "<app>");
  }

  async stop(): Promise<void> {
    for (const stop of this.stopWatches) stop();
    await this.process?.stop();
  }
}
