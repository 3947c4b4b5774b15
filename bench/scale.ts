import { readdirSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { availableParallelism, loadavg } from "node:os";
import { basename } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  setHeaderOptions,
  type V1Deployment,
  type V1Service,
} from "@kubernetes/client-node";
import { parseDuration } from "../src/contract/duration.js";
import { readTrafficSplitWeights } from "../src/routers/smi.js";
import { describeApiError, JSON_PATCH } from "../src/watch/kube.js";
import { startCanaryCluster } from "../test/e2e/journey.js";
import { deploymentManifest, serviceManifest } from "../test/fixtures/manifests.js";
import { type ControlPlane, installCrds, serinCli, startControlPlane } from "../test/harness/index.js";
import { floorSplit, phaseIs, SPLIT, splitAt, type Target, type TrialClients } from "./lib/abort-trial.js";
import { flowSchemaTotal, parseMetrics, serviceAccountFlowSchema } from "./lib/apf.js";
import { inParallel } from "./lib/parallel.js";
import { cpuSeconds, findPid, statusKb } from "./lib/proc.js";
import { type SlowBackends, startSlowBackends } from "./lib/slow-backends.js";
import { type Summary, summarize } from "./lib/stats.js";
import { type Meta, WatchedEvents, wallNow } from "./lib/watched-events.js";
import { type Ceiling, measureWriteCeiling } from "./lib/write-ceiling.js";
import { type AbortTrials, runAbortTrials } from "./scale/abort-probes.js";
import { type RunSummary, runSweep } from "./scale/sweep.js";

/**
 * N canaries in flight at once on ONE `serin watch` process, on the local cluster with the real
 * controllers: step timing skew (observed with a WATCH on trafficsplits), the watcher's API requests per
 * step per canary (counted by the apiserver itself, through an API Priority and Fairness FlowSchema that
 * matches only the watcher's service account), its memory, and abort latency on dedicated probe canaries
 * while the fleet runs. Baselines in the same run: the same watcher with the same Deployments idle, the
 * apiserver's own ceiling for small writes, and the PATCH and watch-delivery floors beside each abort.
 */
const { values: options } = parseArgs({
  options: {
    canaries: { type: "string", default: "1000" },
    // Enabled Deployments that stay idle the whole run, beside the N that get a canary.
    "idle-deployments": { type: "string", default: "0" },
    "step-interval": { type: "string", default: "2s" },
    steps: { type: "string", default: "10,20,30,40,50" },
    namespaces: { type: "string", default: "10" },
    // Default: one resync period of the watcher.
    "idle-seconds": { type: "string", default: "60" },
    concurrency: { type: "string", default: "32" },
    workers: { type: "string" },
    "timeout-seconds": { type: "string", default: "420" },
    // Seconds between one-shot action probes on the idle probe Deployments (0: none).
    "probe-every": { type: "string", default: "3" },
    // Dedicated canaries held at 10% (1h steps) that are aborted and retried, trial after trial (0: none).
    "abort-probes": { type: "string", default: "0" },
    "abort-trials": { type: "string", default: "40" },
    "abort-warmup": { type: "string", default: "3" },
    // Every canary gets an analysis check and a test gate, answered by a local server after this long.
    "slow-backends": { type: "string" },
    "analysis-interval": { type: "string", default: "5s" },
    // The apiserver's ceiling for small writes, measured before the fleet starts (0 s: not measured).
    "ceiling-seconds": { type: "string", default: "20" },
    "ceiling-writers": { type: "string", default: "64" },
    // Fleet sizes to try, one fresh control plane each, until step skew p99 passes --sweep-target-ms.
    sweep: { type: "string" },
    "sweep-target-ms": { type: "string", default: "1000" },
    // Where to write the run's figures as JSON (the sweep reads them).
    "summary-json": { type: "string" },
    "watcher-log-level": { type: "string", default: "info" },
    // kube-controller-manager --kube-api-qps (burst twice that) for the run.
    "kcm-qps": { type: "string", default: "200" },
    // Where to copy the watcher's JSON log lines at the end, for a closer look.
    "watcher-log": { type: "string" },
    // How the bench process's own client-node calls (its writes and watches) reach the apiserver:
    // "keep-alive" or "per-request" (client-node 1.4's default: a new TLS connection per call).
    "bench-agent": { type: "string", default: "keep-alive" },
  },
});

function integer(flag: string, min: number, max: number): number {
  const text = options[flag as keyof typeof options] as string;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`--${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

function duration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new Error(`--${flag} must be a Go duration such as 10s, got "${text}"`);
  return ms;
}

const canaryCount = integer("canaries", 1, 5_000);
const idleCount = integer("idle-deployments", 0, 5_000);
const stepIntervalText = options["step-interval"];
const stepIntervalMs = duration("step-interval", stepIntervalText);
const stepsText = options.steps;
const stepWeights = stepsText.split(",").map((step) => Math.round(Number(step) * 100));
if (stepWeights.some((weight) => !(weight > 0 && weight < 10_000)))
  throw new Error(`--steps must be percentages below 100, e.g. 10,20,30; got "${stepsText}"`);
const namespaceCount = Math.min(integer("namespaces", 1, 1_000), canaryCount);
const idleSeconds = integer("idle-seconds", 5, 3_600);
const concurrency = integer("concurrency", 1, 256);
const timeoutMs = integer("timeout-seconds", 10, 7_200) * 1000;
const probeEveryMs = integer("probe-every", 0, 600) * 1000;
const abortProbeCount = integer("abort-probes", 0, 50);
const abortTrialCount = integer("abort-trials", 1, 10_000);
const abortWarmup = integer("abort-warmup", 0, 100);
const slowBackendsMs =
  options["slow-backends"] === undefined ? undefined : duration("slow-backends", options["slow-backends"]);
const analysisIntervalText = options["analysis-interval"];
duration("analysis-interval", analysisIntervalText);
const ceilingSeconds = integer("ceiling-seconds", 0, 600);
const ceilingWriters = integer("ceiling-writers", 1, 512);
const sweepTargetMs = integer("sweep-target-ms", 1, 600_000);

const benchAgent = options["bench-agent"];
if (benchAgent !== "keep-alive" && benchAgent !== "per-request")
  throw new Error("--bench-agent must be keep-alive or per-request");
if (benchAgent === "keep-alive") {
  // Every KubeConfig in this process gets one keep-alive agent, so the
  // harness does not load the apiserver with a TLS handshake per call.
  const apply = KubeConfig.prototype.applySecurityAuthentication;
  const agents = new WeakMap<KubeConfig, Agent>();
  KubeConfig.prototype.applySecurityAuthentication = async function (this: KubeConfig, context) {
    await apply.call(this, context);
    const fresh = context.getAgent();
    if (!(fresh instanceof Agent)) return;
    let agent = agents.get(this);
    if (!agent) {
      agent = new Agent({ ...fresh.options, keepAlive: true });
      agents.set(this, agent);
    }
    context.setAgent(agent);
  };
}

const FLOW_SCHEMA = "serin-watcher-bench";
/** serin watch's resync period (src/watch/watcher.ts, resyncMs default). */
const RESYNC_MS = 60_000;
/** How often the apiserver's counters are read while the canaries are in flight. */
const COUNTER_SAMPLE_MS = 10_000;
const V2 = "registry.example/web:2.0.0";
const log = (message: string) =>
  process.stderr.write(
    `[${((performance.now() - benchStart) / 1000).toFixed(1)}s load ${loadavg()[0]?.toFixed(1)}] ${message}\n`,
  );
const benchStart = performance.now();

// ---------------------------------------------------------------------------------------------------
// The apiserver's own counters.

interface Counters {
  /** Requests APF dispatched for the watcher's FlowSchema. */
  watcher: number;
  /** ... and rejected (429) for it. */
  rejected: number;
  /** Seconds the watcher's requests waited in APF queues, and how many were counted. */
  waitSum: number;
  waitCount: number;
  byVerb: Map<string, number>;
  /** Writes of every client (POST, PUT, PATCH, DELETE, APPLY). */
  writes: number;
}

const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"]);

async function readCounters(cp: ControlPlane): Promise<Counters> {
  const { status, body } = await cp.get("/metrics");
  if (status !== 200) throw new Error(`GET /metrics answered ${status}`);
  const ours = (name: string) => flowSchemaTotal(body, name, FLOW_SCHEMA);
  const byVerb = new Map<string, number>();
  let writes = 0;
  for (const { labels, value } of parseMetrics(body, "apiserver_request_total")) {
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource;
    const key = `${labels.verb} ${resource}`;
    byVerb.set(key, (byVerb.get(key) ?? 0) + value);
    if (WRITE_VERBS.has(labels.verb ?? "")) writes += value;
  }
  return {
    watcher: ours("apiserver_flowcontrol_dispatched_requests_total"),
    rejected: ours("apiserver_flowcontrol_rejected_requests_total"),
    waitSum: ours("apiserver_flowcontrol_request_wait_duration_seconds_sum"),
    waitCount: ours("apiserver_flowcontrol_request_wait_duration_seconds_count"),
    byVerb,
    writes,
  };
}

// ---------------------------------------------------------------------------------------------------
// What the bench sees through its own WATCHes.

interface CanaryTrack {
  /** Distinct canary weights of the split, in order, with the wall-clock ms they arrived at. */
  splitChanges: { at: number; canary: number }[];
  /** Step index -> stepStartedAt (wall-clock ms) from serin.dev/state on the split. */
  stepStartedAt: Map<number, number>;
  phases: { at: number; phase: string }[];
  shippedAt?: number;
  /** The split's serin.dev/message as last seen (why a canary was aborted). */
  message?: string;
}

const tracks = new Map<string, CanaryTrack>();
const trackOf = (key: string): CanaryTrack => {
  let track = tracks.get(key);
  if (!track) {
    track = { splitChanges: [], stepStartedAt: new Map(), phases: [] };
    tracks.set(key, track);
  }
  return track;
};

function observeSplit(type: string, object: Meta, at: number): void {
  if (type !== "ADDED" && type !== "MODIFIED") return;
  const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
  const track = trackOf(key);
  const canary = readTrafficSplitWeights(object).canary;
  const changes = track.splitChanges;
  if (changes.at(-1)?.canary !== canary) changes.push({ at, canary });
  track.message = object.metadata?.annotations?.["serin.dev/message"];
  // serin keeps its bookkeeping on the split, written together with the weights.
  try {
    const state = JSON.parse(object.metadata?.annotations?.["serin.dev/state"] ?? "null") as {
      step?: number;
      stepStartedAt?: string;
    } | null;
    if (state && typeof state.step === "number" && state.step >= 0 && state.stepStartedAt)
      track.stepStartedAt.set(state.step, Date.parse(state.stepStartedAt));
  } catch {
    // not ours to judge
  }
}

function observeDeployment(type: string, object: Meta, at: number): void {
  if (type !== "ADDED" && type !== "MODIFIED") return;
  const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
  const track = trackOf(key);
  const notes = object.metadata?.annotations ?? {};
  const waiter = actionWaiters.get(key);
  // One watch delivers one object's events in order: first the probe's write, then the watcher's.
  if (waiter && notes["serin.dev/action"] !== undefined) waiter.seen = true;
  else if (waiter?.seen) {
    actionWaiters.delete(key);
    waiter.resolve(at);
  }
  const phase = object.metadata?.labels?.["serin.dev/phase"];
  if (phase && track.phases.at(-1)?.phase !== phase) track.phases.push({ at, phase });
}

const phaseOf = (key: string) => tracks.get(key)?.phases.at(-1)?.phase;

/** Probe Deployment -> who waits for the watcher to consume its one-shot action. */
const actionWaiters = new Map<string, { seen: boolean; resolve: (at: number) => void }>();

// ---------------------------------------------------------------------------------------------------
// Small helpers.

let writeRetries = 0;
/** A bench write, retried: under load the webhook may time out (failurePolicy Fail). */
async function retried(what: string, write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (attempt >= 5) throw new Error(`${what}: ${describeApiError(error)}`);
      writeRetries += 1;
      await sleep(200 * attempt);
    }
  }
}

async function until(what: string, limitMs: number, done: () => boolean): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  while (!done()) {
    if (performance.now() > deadline) {
      log(`gave up waiting for ${what}`);
      return false;
    }
    await sleep(200);
  }
  return true;
}

const median = (values: readonly number[]) => summarize(values).p50;
const fixed = (value: number | undefined, digits = 0) =>
  value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : "n/a";

/**
 * Sends a one-shot action (`pause`, which the watcher consumes and ignores on a Deployment without a
 * canary) to the probe Deployments in turn, and records PATCH sent -> the watcher's write without it.
 */
function startProbes(apps: AppsV1Api, into: number[]): () => Promise<void> {
  if (probeEveryMs <= 0) return async () => {};
  let running = true;
  let turn = 0;
  const loop = (async () => {
    while (running) {
      const { namespace, name } = probeNames[turn++ % probeNames.length] as Target;
      const key = `${namespace}/${name}`;
      const consumed = new Promise<number>((resolve) => actionWaiters.set(key, { seen: false, resolve }));
      const sent = wallNow();
      try {
        await apps.patchNamespacedDeployment(
          { name, namespace, body: { metadata: { annotations: { "serin.dev/action": "pause" } } } },
          setHeaderOptions("Content-Type", "application/merge-patch+json"),
        );
        const at = await Promise.race([consumed, sleep(120_000, Number.NaN, { ref: false })]);
        into.push(at - sent);
      } catch (error) {
        log(`probe ${key}: ${describeApiError(error)}`);
      }
      actionWaiters.delete(key);
      await sleep(probeEveryMs);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** Reads the apiserver's counters every COUNTER_SAMPLE_MS until stopped: the write rate over time. */
function sampleCounters(cp: ControlPlane): { stop: () => Promise<{ at: number; counters: Counters }[]> } {
  const samples: { at: number; counters: Counters }[] = [];
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      try {
        await sleep(COUNTER_SAMPLE_MS, undefined, { signal: stopped.signal });
        samples.push({ at: wallNow(), counters: await readCounters(cp) });
      } catch (error) {
        if (!stopped.signal.aborted) log(`counters: ${describeApiError(error)}`);
      }
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
      return samples;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The Deployments of the run.

const namesOf = (count: number, prefix: string, namespace: (index: number) => string): Target[] =>
  Array.from({ length: count }, (_, index) => ({
    namespace: namespace(index),
    name: `${prefix}-${String(index).padStart(4, "0")}`,
  }));
const keyOf = ({ namespace, name }: Target) => `${namespace}/${name}`;

const names = namesOf(canaryCount, "app", (index) => `scale-${index % namespaceCount}`);
const keys = names.map(keyOf);
const idleNames = namesOf(idleCount, "idle", (index) => `scale-${index % namespaceCount}`);
// Enabled Deployments that never get a canary: a one-shot action on them is consumed and ignored by the
// watcher, which measures queue wait + one reconcile while the N others are idle or in flight.
const PROBE_NAMESPACE = "scale-probe";
const probeNames = namesOf(5, "probe", () => PROBE_NAMESPACE);
// Canaries held at their first step for an hour, aborted and retried trial after trial; beside them an
// unlabelled Deployment (the PATCH floor) and a TrafficSplit nobody owns (the watch-delivery floor).
const ABORT_NAMESPACE = "scale-abort";
const abortProbes = namesOf(abortProbeCount, "abort", () => ABORT_NAMESPACE);
const FLOOR: Target = { namespace: ABORT_NAMESPACE, name: "floor" };
const ABORT_STEPS = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };
const FIRST_WEIGHT = 1_000;
const enabled = [...names, ...idleNames, ...probeNames, ...abortProbes];

function annotationsOf(target: Target, backends: SlowBackends | undefined): Record<string, string> {
  const plan =
    target.namespace === ABORT_NAMESPACE
      ? ABORT_STEPS
      : { "serin.dev/steps": stepsText, "serin.dev/step-interval": stepIntervalText };
  if (!backends) return plan;
  return {
    ...plan,
    "serin.dev/analysis": "success-rate>=99",
    "serin.dev/analysis-interval": analysisIntervalText,
    "serin.dev/tests": backends.gateUrl(target.namespace, target.name),
  };
}

/** Which processes the run's CPU figures cover, found by their command lines. */
function controlPlanePids(cp: ControlPlane, webhookPort: number): Record<string, number> {
  const binary = (name: string) => (argv: string[]) =>
    basename(argv[0] ?? "") === name && argv.some((arg) => arg.includes(cp.dir));
  return {
    watcher: findPid(
      "serin watch",
      (argv) =>
        argv.includes(serinCli) && argv.includes("watch") && argv.some((arg) => arg.startsWith(cp.dir)),
    ),
    "kube-apiserver": findPid("kube-apiserver", binary("kube-apiserver")),
    etcd: findPid("etcd", binary("etcd")),
    "kube-controller-manager": findPid("kube-controller-manager", binary("kube-controller-manager")),
    "kube-scheduler": findPid("kube-scheduler", binary("kube-scheduler")),
    kwok: findPid("kwok", binary("kwok")),
    webhook: findPid(
      "serin webhook",
      (argv) => argv.includes(serinCli) && argv.includes(`127.0.0.1:${webhookPort}`),
    ),
  };
}

// ---------------------------------------------------------------------------------------------------

async function runOnce(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const rss: { at: number; label: string; kb: number }[] = [];
  let label = "start";
  const backends = slowBackendsMs === undefined ? undefined : await startSlowBackends(slowBackendsMs);
  // A thousand Deployments with their canaries: the controller manager gets the client rate a large
  // cluster gives it, or its default 20 requests a second paces every canary's ReplicaSet and pods.
  const cp = await startControlPlane({
    readyTimeoutMs: 120_000,
    controllerManagerQps: Number(options["kcm-qps"]),
  });
  const stops: (() => void)[] = [];
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    await installCrds(cp, ["trafficsplit-smi-upstream"]);
    const testHost = backends ? ["--test-host", backends.host] : [];
    const cluster = await startCanaryCluster(
      cp,
      backends ? [...testHost, "--prometheus-url", backends.prometheusUrl] : [],
      testHost,
    );
    const flowSchema = serviceAccountFlowSchema(FLOW_SCHEMA, "serin-system", "serin");
    const applied = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(flowSchema) });
    if (applied.code !== 0) throw new Error(applied.stderr);
    await sleep(2_000); // the APF config controller picks the FlowSchema up
    const watcher = await cluster.startWatcher([
      "--log-level",
      options["watcher-log-level"],
      ...(options.workers ? ["--workers", options.workers] : []),
    ]);
    await watcher.waitForLog("watcher started");
    const pids = controlPlanePids(cp, cluster.webhook.port);
    const watcherPid = pids.watcher as number;
    const cpuNow = (): Record<string, number> => ({
      ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    });
    const sampler = setInterval(
      () => rss.push({ at: wallNow(), label, kb: statusKb(watcherPid, "VmRSS") }),
      500,
    );
    stops.push(() => clearInterval(sampler));

    // The empty baseline: the watcher with no enabled Deployment at all.
    label = "empty";
    await sleep(5_000);
    const atStart = await readCounters(cp);
    if (atStart.watcher === 0)
      throw new Error(`FlowSchema ${FLOW_SCHEMA} counted none of the watcher's start-up requests`);

    const config = cp.kubeConfig();
    const splits = new WatchedEvents(
      config,
      `/apis/${SPLIT.group}/${SPLIT.version}/trafficsplits`,
      {},
      observeSplit,
    );
    const deployments = new WatchedEvents(
      config,
      "/apis/apps/v1/deployments",
      { labelSelector: "serin.dev/canary=enabled" },
      observeDeployment,
    );
    await splits.start();
    await deployments.start();
    stops.push(
      () => splits.stop(),
      () => deployments.stop(),
    );

    // Setup: the enabled Deployments, each with its Service, in a handful of namespaces.
    label = "setup";
    const apps = config.makeApiClient(AppsV1Api);
    const core = config.makeApiClient(CoreV1Api);
    const objects = config.makeApiClient(CustomObjectsApi);
    const clients: TrialClients = { apps, objects, splits, deployments };
    for (const namespace of [
      ...Array.from({ length: namespaceCount }, (_, i) => `scale-${i}`),
      PROBE_NAMESPACE,
      ...(abortProbeCount > 0 ? [ABORT_NAMESPACE] : []),
    ]) {
      const created = await cp.kubectl(["create", "namespace", namespace]);
      if (created.code !== 0) throw new Error(created.stderr);
    }
    const setupStart = performance.now();
    await inParallel(enabled, concurrency, async (target) => {
      const { namespace, name } = target;
      const service = JSON.parse(serviceManifest(name, namespace)) as V1Service;
      // One replica each: the real controllers and kwok run every pod, primary and canary.
      const deployment = JSON.parse(
        deploymentManifest({ name, namespace, annotations: annotationsOf(target, backends), replicas: 1 }),
      ) as V1Deployment;
      await retried(`create Service ${namespace}/${name}`, () =>
        core.createNamespacedService({ namespace, body: service }),
      );
      await retried(`create Deployment ${namespace}/${name}`, () =>
        apps.createNamespacedDeployment({ namespace, body: deployment }),
      );
    });
    if (abortProbeCount > 0) {
      const floor = JSON.parse(deploymentManifest({ ...FLOOR, enabled: false, replicas: 0 })) as V1Deployment;
      await apps.createNamespacedDeployment({ namespace: FLOOR.namespace, body: floor });
      await objects.createNamespacedCustomObject({
        ...SPLIT,
        namespace: FLOOR.namespace,
        body: floorSplit(FLOOR),
      });
    }
    log(
      `created ${enabled.length} Services and Deployments in ${fixed((performance.now() - setupStart) / 1000, 1)} s`,
    );
    const allIdle = await until("every Deployment Idle", timeoutMs, () =>
      enabled.every((target) => {
        const key = keyOf(target);
        return phaseOf(key) === "Idle" && tracks.get(key)?.splitChanges.at(-1)?.canary === 0;
      }),
    );
    if (!allIdle) throw new Error("the watcher did not bring every Deployment to Idle");
    const setupSeconds = (performance.now() - setupStart) / 1000;
    log(`all ${enabled.length} Idle with a split after ${fixed(setupSeconds, 1)} s`);
    // Each Idle write is followed by reconciles of its own echo and of the status write it causes: let that
    // backlog drain (fewer than N/100 + 1 watcher requests in 2 s) so the idle window measures idling.
    const quietStart = performance.now();
    let previousCount = (await readCounters(cp)).watcher;
    for (;;) {
      await sleep(2_000);
      const count = (await readCounters(cp)).watcher;
      if (count - previousCount <= enabled.length / 100 + 1) break;
      previousCount = count;
      if (performance.now() - quietStart > timeoutMs) throw new Error("the watcher never went quiet");
    }
    const drainSeconds = (performance.now() - quietStart) / 1000;
    log(`watcher quiet ${fixed(drainSeconds, 1)} s after the last Idle`);

    // The apiserver's ceiling on this machine, with every Deployment in place and none in flight.
    let ceiling: Ceiling | undefined;
    if (ceilingSeconds > 0) {
      label = "ceiling";
      ceiling = await measureWriteCeiling(cp, { writers: ceilingWriters, seconds: ceilingSeconds }, cpuNow);
      log(`ceiling: ${fixed(ceiling.perSecond)} writes/s, p99 ${fixed(ceiling.latency.p99, 1)} ms`);
      await sleep(5_000);
    }

    // The abort probes go to their first step, where they stay (1h steps) but for the trials.
    if (abortProbeCount > 0) {
      label = "probes";
      await inParallel(abortProbes, concurrency, async (target) => {
        const atFirst = splits.next(
          splitAt(target, FIRST_WEIGHT),
          `${keyOf(target)} at its first step`,
          timeoutMs,
        );
        const progressing = deployments.next(
          phaseIs(target, "Progressing", FIRST_WEIGHT / 100),
          `${keyOf(target)} Progressing`,
          timeoutMs,
        );
        await retried(`ship ${keyOf(target)}`, () =>
          apps.patchNamespacedDeployment(
            {
              ...target,
              body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: V2 }],
            },
            setHeaderOptions("Content-Type", JSON_PATCH),
          ),
        );
        await Promise.all([atFirst, progressing]);
      });
      log(`${abortProbeCount} abort probes at their first step`);
    }

    // Idle baseline: the same watcher, the same enabled Deployments, no canary. The watcher re-enqueues
    // every enabled Deployment each RESYNC_MS from its start: begin the window just before such a tick, so
    // that a window of one period holds exactly one resync burst.
    const startedAt = watcher.logs().find((entry) => entry.msg === "watcher started")?.time as number;
    const periods = Math.ceil((wallNow() + 1_000 - startedAt) / RESYNC_MS);
    await sleep(Math.max(0, startedAt + periods * RESYNC_MS - 1_000 - wallNow()));
    label = "idle";
    const idleBefore = await readCounters(cp);
    const idleCpuBefore = cpuNow();
    const idleStart = performance.now();
    const idleProbes: number[] = [];
    const stopIdleProbes = startProbes(apps, idleProbes);
    await sleep(idleSeconds * 1000);
    await stopIdleProbes();
    const idleAfter = await readCounters(cp);
    const idleCpuAfter = cpuNow();
    const idleWindowS = (performance.now() - idleStart) / 1000;
    const idleRequests = idleAfter.watcher - idleBefore.watcher;
    const idleRate = idleRequests / idleWindowS;
    log(`idle: ${idleRequests} watcher requests in ${fixed(idleWindowS, 1)} s`);

    const fleetInFlight = () =>
      keys.filter((key) => {
        const track = tracks.get(key);
        const phase = track?.phases.at(-1)?.phase;
        return track?.shippedAt !== undefined && phase !== "Succeeded" && phase !== "Aborted";
      }).length;
    const abortTrials = (label: string, stop: () => boolean) =>
      runAbortTrials(
        clients,
        abortProbes,
        { deployment: FLOOR, split: FLOOR },
        {
          label,
          trials: abortTrialCount,
          warmup: abortWarmup,
          firstWeight: FIRST_WEIGHT,
          timeoutMs: 60_000,
          // Under load a new canary takes minutes to be ready (see "ship -> first step weight").
          rearmTimeoutMs: Math.min(timeoutMs, 300_000),
          pauseMs: 500,
          inFlight: fleetInFlight,
          stop,
        },
      );
    // Aborts with the fleet idle: the baseline of the same probes, the same floors.
    let idleAborts: AbortTrials | undefined;
    if (abortProbeCount > 0) {
      label = "idle-aborts";
      idleAborts = await abortTrials("idle", () => false);
      log(`idle aborts: ${idleAborts.trials.length} trials, ${idleAborts.failures.length} failures`);
    }

    // Ship v2 to all of them at once: parallel JSON patches of the image, each through serin's webhook.
    label = "inflight";
    loopDelay.enable();
    const flightBefore = await readCounters(cp);
    const counterSamples = sampleCounters(cp);
    const flightProbes: number[] = [];
    const stopFlightProbes = startProbes(apps, flightProbes);
    const flightCpuBefore = cpuNow();
    const shipStart = performance.now();
    const shipStartWall = wallNow();
    const body = [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: V2 }];
    await inParallel(names, concurrency, async ({ namespace, name }) => {
      await retried(`ship ${namespace}/${name}`, () =>
        apps.patchNamespacedDeployment(
          { name, namespace, body },
          setHeaderOptions("Content-Type", JSON_PATCH),
        ),
      );
      trackOf(`${namespace}/${name}`).shippedAt = wallNow();
    });
    const shipSeconds = (performance.now() - shipStart) / 1000;
    log(`shipped v2 to ${canaryCount} Deployments in ${fixed(shipSeconds, 1)} s`);
    const succeeded = () => keys.filter((key) => phaseOf(key) === "Succeeded").length;
    const abortedKeys = () => keys.filter((key) => phaseOf(key) === "Aborted");
    // Every canary promoted or aborted: nothing is left in flight.
    const settled = () => fleetInFlight() === 0;
    const flightAborts = abortProbeCount > 0 ? abortTrials("inflight", settled) : Promise.resolve(undefined);
    let lastReport = performance.now();
    await until("every canary promoted or aborted", timeoutMs, () => {
      if (performance.now() - lastReport > 15_000) {
        lastReport = performance.now();
        log(`${succeeded()} Succeeded, ${abortedKeys().length} Aborted, ${fleetInFlight()} in flight`);
      }
      return settled();
    });
    const finished = succeeded();
    // Why canaries were aborted, their names, revisions and URLs left out.
    const abortReasons = new Map<string, number>();
    for (const key of abortedKeys()) {
      const reason = (trackOf(key).message ?? "no message seen")
        .replace(/https?:\/\/\S+/g, "<url>")
        .replace(/revision [0-9a-f]+/g, "revision <hash>")
        .slice(0, 160);
      abortReasons.set(reason, (abortReasons.get(reason) ?? 0) + 1);
    }
    const inFlightAborts = await flightAborts;
    await stopFlightProbes();
    // The follow-up reconciles of the last writes belong to the canaries too.
    await sleep(3_000);
    const sampled = await counterSamples.stop();
    const flightAfter = await readCounters(cp);
    const flightAfterAt = wallNow();
    const flightCpuAfter = cpuNow();
    const flightWindowS = (performance.now() - shipStart) / 1000;
    const samples = [
      { at: shipStartWall, counters: flightBefore },
      ...sampled,
      { at: flightAfterAt, counters: flightAfter },
    ];
    loopDelay.disable();
    label = "end";
    const hwmKb = statusKb(watcherPid, "VmHWM");
    const watcherFds = readdirSync(`/proc/${watcherPid}/fd`).length;
    const loadAtEnd = loadavg()[0] ?? Number.NaN;
    log(`${finished} of ${canaryCount} Succeeded; in-flight window ${fixed(flightWindowS, 1)} s`);

    // Step timing skew; with slow backends also the time from the gate's answer to the next weight.
    const scheduleSkew: number[] = [];
    const gapSkew: number[] = [];
    const afterGate: number[] = [];
    const firstStep: number[] = [];
    const lifetime: number[] = [];
    const sequence = [...stepWeights, 10_000];
    let incomplete = 0;
    for (const key of keys) {
      const track = trackOf(key);
      const shipped = track.shippedAt ?? Number.NaN;
      const changes = track.splitChanges.filter((change) => change.at >= shipped - 1_000);
      const seen = sequence.map((weight) => changes.find((change) => change.canary === weight)?.at);
      if (seen.some((at) => at === undefined)) incomplete += 1;
      if (seen[0] !== undefined) firstStep.push(seen[0] - shipped);
      const gateAnswers = backends?.gateAnswers.get(key) ?? [];
      for (let step = 1; step < sequence.length; step++) {
        const at = seen[step];
        const previous = seen[step - 1];
        const previousStart = track.stepStartedAt.get(step - 1);
        if (at === undefined) continue;
        if (previousStart !== undefined) scheduleSkew.push(at - (previousStart + stepIntervalMs));
        if (previous !== undefined) gapSkew.push(at - previous - stepIntervalMs);
        const answered = gateAnswers.filter(
          (time) => time <= at && (previous === undefined || time > previous),
        );
        if (answered.length > 0) afterGate.push(at - Math.max(...answered));
      }
      const done = track.phases.find((entry) => entry.phase === "Succeeded" && entry.at >= shipped)?.at;
      if (done !== undefined) lifetime.push(done - shipped);
    }

    const reached = sequence.map(
      (weight) =>
        keys.filter((key) => {
          const shipped = trackOf(key).shippedAt ?? Number.NaN;
          return trackOf(key).splitChanges.some(
            (change) => change.at >= shipped - 1_000 && change.canary === weight,
          );
        }).length,
    );
    const watcherRequests = flightAfter.watcher - flightBefore.watcher;
    const netRequests = watcherRequests - idleRate * flightWindowS;
    const rejectedInFlight = flightAfter.rejected - flightBefore.rejected;
    const rejectedIdle = idleAfter.rejected - idleBefore.rejected;
    const meanWaitMs = (after: Counters, before: Counters) =>
      ((after.waitSum - before.waitSum) / Math.max(1, after.waitCount - before.waitCount)) * 1000;
    const stepCount = stepWeights.length;
    const flightRate = watcherRequests / flightWindowS;
    // All clients' writes/s over the in-flight window, and in its busiest sampling interval; the watcher's too.
    // A short last interval is left out of the busiest: too few seconds to say a rate.
    const rates = samples.slice(1).flatMap((sample, index) => {
      const before = samples[index] as (typeof samples)[number];
      const seconds = (sample.at - before.at) / 1000;
      if (seconds < COUNTER_SAMPLE_MS / 2000 && samples.length > 2) return [];
      return [
        {
          writes: (sample.counters.writes - before.counters.writes) / seconds,
          watcher: (sample.counters.watcher - before.counters.watcher) / seconds,
        },
      ];
    });
    const writesMean = (flightAfter.writes - flightBefore.writes) / flightWindowS;
    const writesPeak = Math.max(...rates.map((rate) => rate.writes));
    const watcherPeak = Math.max(...rates.map((rate) => rate.watcher));
    const emptyKb = median(rss.filter((s) => s.label === "empty").map((s) => s.kb));
    const idleKb = median(rss.filter((s) => s.label === "idle").map((s) => s.kb));
    const peakFlightKb = Math.max(...rss.filter((s) => s.label === "inflight").map((s) => s.kb));
    const mib = (kb: number) => fixed(kb / 1024, 1);
    const watcherLogs = watcher.logs();
    if (options["watcher-log"])
      writeFileSync(options["watcher-log"], watcherLogs.map((entry) => JSON.stringify(entry)).join("\n"));
    const warnings = watcherLogs.filter((entry) => entry.level === 40 || entry.level === 50);
    const warningKinds = new Map<string, number>();
    for (const entry of warnings) {
      const error = String(entry.error ?? (entry.err as { message?: string })?.message ?? "");
      // The apiserver's own message when client-node wrapped it; object names aggregated.
      const status = /\\"message\\":\\"([^\\]+)/.exec(error)?.[1];
      const kind = `${entry.msg}: ${status ?? error}`
        .replace(/\s+/g, " ")
        .replace(/"[a-z0-9.-]+": the object/, '"<name>": the object')
        .slice(0, 140);
      warningKinds.set(kind, (warningKinds.get(kind) ?? 0) + 1);
    }
    const idealSeconds = ((stepCount + 1) * stepIntervalMs) / 1000;
    const cores = (after: Record<string, number>, before: Record<string, number>, seconds: number) =>
      Object.fromEntries(
        Object.keys(after).map((name) => [name, ((after[name] ?? 0) - (before[name] ?? 0)) / seconds]),
      );
    const idleCores = cores(idleCpuAfter, idleCpuBefore, idleWindowS);
    const flightCores = cores(flightCpuAfter, flightCpuBefore, flightWindowS);
    const percent = (value: number | undefined) => `${fixed((value ?? Number.NaN) * 100)} %`;
    const cpuRows = Object.keys(flightCores).map(
      (name) =>
        `| ${name} | ${ceiling ? percent(ceiling.cores[name]) : "-"} | ${percent(idleCores[name])} | ${percent(flightCores[name])} |`,
    );

    const skewRow = (name: string, s: Summary) =>
      `| ${name} | ${s.n} | ${fixed(s.p50)} | ${fixed(s.p90)} | ${fixed(s.p99)} | ${fixed(s.max)} |`;
    const verbRows = [...flightAfter.byVerb.entries()]
      .map(([key, value]) => [key, value - (flightBefore.byVerb.get(key) ?? 0)] as const)
      .filter(([, delta]) => delta > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14);
    const scheduleSummary = summarize(scheduleSkew);

    const abortRows = (name: string, run: AbortTrials | undefined): string[] => {
      if (!run) return [];
      const trials = run.trials;
      const inFlight = summarize(trials.map((trial) => trial.inFlight));
      const row = (what: string, values: number[]) => {
        const s = summarize(values);
        return `| ${name}: ${what} | ${s.n} | ${fixed(s.p50, 1)} | ${fixed(s.p90, 1)} | ${fixed(s.p99, 1)} | ${fixed(s.max, 1)} |`;
      };
      return [
        row(
          "PATCH floor (annotation on an unlabelled Deployment, keep-alive)",
          trials.map((t) => t.patchFloor),
        ),
        row(
          "watch-delivery floor (TrafficSplit PATCH -> its WATCH event)",
          trials.map((t) => t.watchFloor),
        ),
        row(
          "abort PATCH response (through serin's webhook)",
          trials.map((t) => t.abort.response),
        ),
        row(
          `**abort: PATCH sent -> WATCH event split at stable 100%** (fleet in flight: min ${fixed(inFlight.n ? Math.min(...trials.map((t) => t.inFlight)) : Number.NaN)}, median ${fixed(inFlight.p50)})`,
          trials.map((t) => t.abort.latency),
        ),
        row("retry -> probe back at 10% (info)", run.rearms),
      ];
    };
    const abortFailures = [...(idleAborts?.failures ?? []), ...(inFlightAborts?.failures ?? [])];
    const labelMismatches = [
      ...(idleAborts?.weightLabelMismatches ?? []),
      ...(inFlightAborts?.weightLabelMismatches ?? []),
    ];
    const flightAbort = inFlightAborts
      ? summarize(inFlightAborts.trials.map((t) => t.abort.latency))
      : undefined;
    const flightWatchFloor = inFlightAborts
      ? summarize(inFlightAborts.trials.map((t) => t.watchFloor))
      : undefined;
    const idleAbort = idleAborts ? summarize(idleAborts.trials.map((t) => t.abort.latency)) : undefined;
    const share = (value: number) => (ceiling ? `${fixed((value / ceiling.perSecond) * 100)} %` : "n/a");

    const lines = [
      `command: node dist/bench/scale.js ${process.argv.slice(2).join(" ")}`.trimEnd(),
      `${canaryCount} canaries and ${idleCount} more enabled Deployments that stay idle, in ${namespaceCount} ` +
        `namespaces; steps ${stepsText}, step-interval ${stepIntervalText}; one serin watch` +
        `${options.workers ? ` --workers ${options.workers}` : " (default --workers)"}; bench clients: ${benchAgent}; ` +
        (backends
          ? `every canary with serin.dev/analysis success-rate>=99 every ${analysisIntervalText} and a serin.dev/tests gate, ` +
            `Prometheus and the gate answering after ${fixed((slowBackendsMs ?? 0) / 1000, 1)} s ` +
            `(${backends.counts.queries} queries, ${backends.counts.gateCalls} gate calls, at most ${backends.counts.peakInFlight} at once); `
          : "") +
        `v2 shipped by ${concurrency} parallel JSON PATCHes of the image (through serin's webhook) in ${fixed(shipSeconds, 1)} s; ` +
        `${finished} of ${canaryCount} canaries reached Succeeded, ${abortedKeys().length} were aborted` +
        [...abortReasons.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([reason, count]) => ` (${count}x "${reason}")`)
          .join("") +
        `; ${incomplete} split sequences incomplete`,
      `canaries whose split reached canary weight ${sequence.map((weight, index) => `${weight}: ${reached[index]}`).join(", ")}`,
      `load average (1 min) at start ${fixed(loadAtStart, 2)}, at end ${fixed(loadAtEnd, 2)} on ${availableParallelism()} cores`,
      "",
      "Step timing skew (observed split weight change minus the step's scheduled time) and latencies, ms:",
      "",
      "| measurement | n | p50 | p90 | p99 | max |",
      "|---|---|---|---|---|---|",
      skewRow(
        `from serin.dev/state: event - (previous stepStartedAt + step-interval)${backends ? " (includes the checks' and the gate's delay)" : ""}`,
        scheduleSummary,
      ),
      skewRow("from consecutive split events: gap - step-interval", summarize(gapSkew)),
      ...(backends ? [skewRow("gate answered -> next weight seen on the WATCH", summarize(afterGate))] : []),
      skewRow("ship PATCH answered -> first step weight (info)", summarize(firstStep)),
      skewRow(
        "one-shot action latency while idle: PATCH sent -> watcher consumed it (probe Deployments)",
        summarize(idleProbes),
      ),
      skewRow(
        "one-shot action latency while N canaries are in flight (same probes)",
        summarize(flightProbes),
      ),
      skewRow(
        `ship -> Succeeded (info; ${stepCount} holds + promotion = ${fixed(idealSeconds, 0)} s at least)`,
        summarize(lifetime),
      ),
      ...(abortProbeCount > 0
        ? [
            "",
            `Abort on ${abortProbeCount} probe canaries at 10% (steps 10,50, step-interval 1h), one abort at a time, ` +
              `each followed by retry; floors measured just before each abort, ms:`,
            "",
            "| measurement | n | p50 | p90 | p99 | max |",
            "|---|---|---|---|---|---|",
            ...abortRows("fleet idle", idleAborts),
            ...abortRows("fleet in flight", inFlightAborts),
            "",
            flightAbort && idleAbort && flightWatchFloor
              ? `abort p99 in flight ${fixed(flightAbort.p99, 1)} ms: ${flightAbort.p99 <= 100 ? "meets" : "misses"} the target ` +
                `p99 <= 100 ms; in flight / idle p50 ${fixed(flightAbort.p50 / idleAbort.p50, 2)}, p99 ` +
                `${fixed(flightAbort.p99 / idleAbort.p99, 2)}; in flight / watch-delivery floor p99 ` +
                `${fixed(flightAbort.p99 / flightWatchFloor.p99, 2)}` +
                (inFlightAborts && inFlightAborts.trials.length < abortTrialCount
                  ? `; **only ${inFlightAborts.trials.length} of ${abortTrialCount} trials ran before the fleet finished**`
                  : "")
              : "abort trials: none measured",
            `abort trial failures: ${abortFailures.length}${abortFailures
              .slice(0, 5)
              .map((failure) => `; ${failure}`)
              .join("")}`,
            `probes taken for a trial while their Deployment's serin.dev/weight label disagreed with the split: ` +
              `${labelMismatches.length}${labelMismatches
                .slice(0, 3)
                .map((mismatch) => `; ${mismatch}`)
                .join("")}`,
          ]
        : []),
      "",
      "Watcher against its idle baseline (same process, same enabled Deployments, no canary):",
      "",
      "| measurement | idle baseline | N canaries in flight | ratio in flight / idle |",
      "|---|---|---|---|",
      `| watcher API requests/s (APF FlowSchema ${FLOW_SCHEMA}) | ${fixed(idleRate, 1)} | ${fixed(flightRate, 1)} | ${fixed(flightRate / idleRate, 1)} |`,
      `| watcher RSS MiB (idle: median; in flight: peak VmRSS) | ${mib(idleKb)} | ${mib(peakFlightKb)} | ${fixed(peakFlightKb / idleKb, 2)} |`,
      "",
      `- watcher requests in the in-flight window (${fixed(flightWindowS, 1)} s): ${watcherRequests}; minus the idle rate over ` +
        `the same time: ${fixed(netRequests)}; per step per canary (/ ${canaryCount} x ${stepCount}): ` +
        `**${fixed(netRequests / (canaryCount * stepCount), 1)}** (raw ${fixed(watcherRequests / (canaryCount * stepCount), 1)}); ` +
        `per canary, whole lifecycle: ${fixed(netRequests / canaryCount, 1)}`,
      `- idle: ${idleRequests} watcher requests in ${fixed(idleWindowS, 1)} s = ${fixed(idleRate, 1)}/s, ` +
        `${fixed((idleRate * 60) / enabled.length, 2)} per enabled Deployment per minute`,
      `- watcher RSS: ${mib(emptyKb)} MiB with no Deployment, ${mib(idleKb)} MiB with ${enabled.length} idle ` +
        `(${fixed((idleKb - emptyKb) / enabled.length, 1)} KiB each), peak ${mib(peakFlightKb)} MiB in flight: ` +
        `**${fixed((peakFlightKb - idleKb) / canaryCount, 1)} KiB per in-flight canary** over the idle baseline; VmHWM ${mib(hwmKb)} MiB`,
      `- APF for the watcher's FlowSchema (priority level workload-low): rejected (429) ${rejectedIdle} idle, ` +
        `${rejectedInFlight} in flight; mean queue wait ${fixed(meanWaitMs(idleAfter, idleBefore), 2)} ms idle, ` +
        `${fixed(meanWaitMs(flightAfter, flightBefore), 2)} ms in flight; watcher open file descriptors at the end: ${watcherFds}`,
      `- setup (create + watcher brings all to Idle): ${fixed(setupSeconds, 1)} s, then ${fixed(drainSeconds, 1)} s until ` +
        `the watcher went quiet; bench write retries: ${writeRetries}; ` +
        `bench watch restarts: ${splits.restarts + deployments.restarts}; bench event-loop delay in flight p99 ${fixed(loopDelay.percentile(99) / 1e6, 1)} ms, ` +
        `max ${fixed(loopDelay.max / 1e6, 1)} ms`,
      `- watcher warnings/errors logged: ${warnings.length}` +
        [...warningKinds.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([kind, count]) => `; ${count}x "${kind}"`)
          .join(""),
      "",
      "The apiserver against its own ceiling (small writes/s it takes on this machine, measured in this run " +
        "before the fleet started):",
      "",
      "| measurement | writes/s | share of the ceiling |",
      "|---|---|---|",
      ceiling
        ? `| ceiling: ${ceiling.writers} writers, JSON merge PATCH of one annotation on a ConfigMap each, ${fixed(ceiling.windowS, 1)} s, ` +
          `as a service account (workload-low); latency p50 ${fixed(ceiling.latency.p50, 1)} ms, p99 ${fixed(ceiling.latency.p99, 1)} ms; ${ceiling.failed} failed; ` +
          `APF mean queue wait ${fixed(ceiling.apf.meanWaitMs, 1)} ms, ${ceiling.apf.rejected} rejected | ` +
          `${fixed(ceiling.perSecond)} | 100 % |`
        : "| ceiling: not measured (--ceiling-seconds 0) | n/a | |",
      `| all clients' writes in flight, mean over the window | ${fixed(writesMean)} | ${share(writesMean)} |`,
      `| all clients' writes in flight, busiest ${COUNTER_SAMPLE_MS / 1000} s | ${fixed(writesPeak)} | ${share(writesPeak)} |`,
      `| serin's requests in flight (APF), mean / busiest ${COUNTER_SAMPLE_MS / 1000} s | ${fixed(flightRate)} / ${fixed(watcherPeak)} | ${share(flightRate)} / ${share(watcherPeak)} |`,
      "",
      "CPU use (100 % = one core of 2):",
      "",
      "| process | ceiling window | idle window | in-flight window |",
      "|---|---|---|---|",
      ...cpuRows,
      "",
      "apiserver_request_total, in-flight window, all clients (watcher, controllers, kwok, bench):",
      "",
      "| verb resource | requests |",
      "|---|---|",
      ...verbRows.map(([key, delta]) => `| ${key} | ${delta} |`),
      "",
      `whole run: ${fixed((performance.now() - benchStart) / 1000)} s`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (options["summary-json"]) {
      const summary: RunSummary = {
        canaries: canaryCount,
        stepInterval: stepIntervalText,
        finished,
        incomplete,
        skew: scheduleSummary,
        ceilingWritesPerSecond: ceiling?.perSecond,
        writesPerSecond: { mean: writesMean, peak: writesPeak },
        watcherRequestsPerSecond: flightRate,
        cores: flightCores,
        load: { start: loadAtStart, end: loadAtEnd },
        peakRssMiB: peakFlightKb / 1024,
      };
      writeFileSync(options["summary-json"], JSON.stringify(summary));
    }
  } finally {
    for (const stop of stops) stop();
    await cp.stop();
    await backends?.close();
  }
}

if (options.sweep) {
  const sizes = options.sweep.split(",").map((text) => {
    const size = Number(text);
    if (!Number.isInteger(size) || size < 1 || size > 5_000)
      throw new Error(`--sweep takes fleet sizes from 1 to 5000, e.g. 30,100,200; got "${text}"`);
    return size;
  });
  await runSweep(fileURLToPath(import.meta.url), process.argv.slice(2), sizes, sweepTargetMs);
} else {
  await runOnce();
}
