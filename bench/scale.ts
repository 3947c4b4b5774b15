import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  setHeaderOptions,
  type V1Deployment,
  type V1Service,
  Watch,
} from "@kubernetes/client-node";
import { parseDuration } from "../src/contract/duration.js";
import { readTrafficSplitWeights } from "../src/routers/smi.js";
import { describeApiError, JSON_PATCH, mergePatch } from "../src/watch/kube.js";
import { startCanaryCluster } from "../test/e2e/journey.js";
import { deploymentManifest, serviceManifest } from "../test/fixtures/manifests.js";
import { type ControlPlane, installCrds, serinCli, startControlPlane } from "../test/harness/index.js";

/**
 * N canaries in flight at once on ONE `serin watch` process, on a real kube-apiserver: step timing
 * skew (observed with a WATCH on trafficsplits), the watcher's API requests per step per canary
 * (counted by the apiserver itself, through an API Priority and Fairness FlowSchema that matches only
 * the watcher's service account), and its memory. Baseline in the same run: the same watcher with the
 * same N enabled Deployments idle.
 */
const { values: options } = parseArgs({
  options: {
    canaries: { type: "string", default: "1000" },
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
    "watcher-log-level": { type: "string", default: "info" },
    // kube-controller-manager --kube-api-qps (burst twice that) for the run.
    "kcm-qps": { type: "string", default: "200" },
    // Where to copy the watcher's JSON log lines at the end, for a closer look.
    "watcher-log": { type: "string" },
    // What-if, not serin as shipped: the watcher's API clients share one keep-alive HTTPS agent.
    "what-if-keep-alive": { type: "boolean", default: false },
    // How the bench process's own client-node calls (its writes and watches) reach the apiserver:
    // "keep-alive" or "per-request" (client-node 1.4's default: a new TLS connection per call).
    "bench-agent": { type: "string", default: "keep-alive" },
  },
});
const canaryCount = Number(options.canaries);
const stepIntervalText = options["step-interval"];
const stepIntervalMs = parseDuration(stepIntervalText) ?? Number.NaN;
const stepsText = options.steps;
const stepWeights = stepsText.split(",").map((step) => Math.round(Number(step) * 100));
const namespaceCount = Math.min(Number(options.namespaces), canaryCount);
const idleSeconds = Number(options["idle-seconds"]);
const concurrency = Number(options.concurrency);
const timeoutMs = Number(options["timeout-seconds"]) * 1000;
const probeEveryMs = Number(options["probe-every"]) * 1000;
if (!Number.isFinite(stepIntervalMs) || stepWeights.some((weight) => !(weight > 0 && weight <= 10_000)))
  throw new Error("--step-interval must be a Go duration and --steps plain weights, e.g. 10,20,30");

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
const whatIfKeepAlive = options["what-if-keep-alive"];

/**
 * Preloaded into the watcher for --what-if-keep-alive. client-node 1.4 makes a new https.Agent, so a new
 * TLS connection and SecureContext, for every API call; this hands every call of a KubeConfig one
 * keep-alive agent built from the first agent's options instead.
 */
const KEEP_ALIVE_PRELOAD = `
import { Agent } from "node:https";
import { KubeConfig } from ${JSON.stringify(import.meta.resolve("@kubernetes/client-node"))};
const apply = KubeConfig.prototype.applySecurityAuthentication;
const agents = new WeakMap();
KubeConfig.prototype.applySecurityAuthentication = async function (context) {
  await apply.call(this, context);
  let agent = agents.get(this);
  if (!agent) {
    agent = new Agent({ ...context.getAgent().options, keepAlive: true });
    agents.set(this, agent);
  }
  context.setAgent(agent);
};
`;
const V2 = "registry.example/web:2.0.0";
const annotations = { "serin.dev/steps": stepsText, "serin.dev/step-interval": stepIntervalText };
const wallNow = () => performance.timeOrigin + performance.now();
const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - benchStart) / 1000).toFixed(1)}s] ${message}\n`);
const benchStart = performance.now();

// ---------------------------------------------------------------------------------------------------
// Processes: find them by their command lines, read their memory and CPU from /proc.

function commandLines(): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      found.push({ pid: Number(entry), argv });
    } catch {
      // gone in between
    }
  }
  return found;
}

function findPid(what: string, match: (argv: string[]) => boolean): number {
  const hits = commandLines().filter(({ argv }) => match(argv));
  if (hits.length !== 1) throw new Error(`expected one ${what} process, found ${hits.length}`);
  return (hits[0] as { pid: number }).pid;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? Number.NaN);
}

/** User + system CPU seconds the process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// ---------------------------------------------------------------------------------------------------
// The apiserver's own counters.

type Sample = { labels: Record<string, string>; value: number };

function parseMetrics(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf("}");
    const labels: Record<string, string> = {};
    for (const match of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[match[1] as string] = match[2] as string;
    samples.push({ labels, value: Number(line.slice(close + 1).trim()) });
  }
  return samples;
}

interface Counters {
  /** Requests APF dispatched for the watcher's FlowSchema. */
  watcher: number;
  /** ... and rejected (429) for it. */
  rejected: number;
  /** Seconds the watcher's requests waited in APF queues, and how many were counted. */
  waitSum: number;
  waitCount: number;
  byVerb: Map<string, number>;
}

async function readCounters(cp: ControlPlane): Promise<Counters> {
  const { status, body } = await cp.get("/metrics");
  if (status !== 200) throw new Error(`GET /metrics answered ${status}`);
  const ours = (name: string) =>
    parseMetrics(body, name)
      .filter((sample) => sample.labels.flow_schema === FLOW_SCHEMA)
      .reduce((sum, sample) => sum + sample.value, 0);
  const watcher = ours("apiserver_flowcontrol_dispatched_requests_total");
  const rejected = ours("apiserver_flowcontrol_rejected_requests_total");
  const waitSum = ours("apiserver_flowcontrol_request_wait_duration_seconds_sum");
  const waitCount = ours("apiserver_flowcontrol_request_wait_duration_seconds_count");
  const byVerb = new Map<string, number>();
  for (const { labels, value } of parseMetrics(body, "apiserver_request_total")) {
    const resource = labels.subresource ? `${labels.resource}/${labels.subresource}` : labels.resource;
    const key = `${labels.verb} ${resource}`;
    byVerb.set(key, (byVerb.get(key) ?? 0) + value);
  }
  return { watcher, rejected, waitSum, waitCount, byVerb };
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
let watchRestarts = 0;

interface Meta {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

/** A WATCH that restarts if the apiserver ends it; each event goes to `onEvent` with its arrival time. */
async function keepWatching(
  config: KubeConfig,
  path: string,
  query: Record<string, string>,
  onEvent: (type: string, object: Meta, at: number) => void,
): Promise<() => void> {
  let stopped = false;
  let controller: AbortController | undefined;
  const start = async (): Promise<void> => {
    controller = await new Watch(config).watch(
      path,
      query,
      (type, object: Meta) => onEvent(type, object, wallNow()),
      () => {
        if (stopped) return;
        watchRestarts += 1;
        setTimeout(() => void start(), 100);
      },
    );
  };
  await start();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

function observeSplit(type: string, object: Meta, at: number): void {
  if (type !== "ADDED" && type !== "MODIFIED") return;
  const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
  const track = trackOf(key);
  const canary = readTrafficSplitWeights(object).canary;
  const changes = track.splitChanges;
  if (changes.at(-1)?.canary !== canary) changes.push({ at, canary });
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

async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

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

interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { n: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) ?? Number.NaN };
}

const median = (values: readonly number[]) => summarize(values).p50;
const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

// ---------------------------------------------------------------------------------------------------

/** Every `probeEveryMs`, sets serin.dev/action=pause on the next probe Deployment; collects the latencies. */
function startProbes(apps: AppsV1Api, into: number[]): () => Promise<void> {
  if (probeEveryMs <= 0) return async () => {};
  let running = true;
  let turn = 0;
  const loop = (async () => {
    while (running) {
      const { namespace, name } = probeNames[turn++ % probeNames.length] as {
        namespace: string;
        name: string;
      };
      const key = `${namespace}/${name}`;
      const consumed = new Promise<number>((resolve) => actionWaiters.set(key, { seen: false, resolve }));
      const sent = wallNow();
      try {
        await apps.patchNamespacedDeployment(
          { name, namespace, body: { metadata: { annotations: { "serin.dev/action": "pause" } } } },
          mergePatch,
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

const flowSchema = {
  apiVersion: "flowcontrol.apiserver.k8s.io/v1",
  kind: "FlowSchema",
  metadata: { name: FLOW_SCHEMA },
  spec: {
    // Ahead of the suggested "service-accounts" schema (9000), onto the same priority level it uses.
    matchingPrecedence: 500,
    priorityLevelConfiguration: { name: "workload-low" },
    distinguisherMethod: { type: "ByUser" },
    rules: [
      {
        subjects: [{ kind: "ServiceAccount", serviceAccount: { name: "serin", namespace: "serin-system" } }],
        resourceRules: [
          { verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"] },
        ],
        nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
      },
    ],
  },
};

const names = Array.from({ length: canaryCount }, (_, index) => ({
  namespace: `scale-${index % namespaceCount}`,
  name: `app-${String(index).padStart(4, "0")}`,
}));
const keys = names.map(({ namespace, name }) => `${namespace}/${name}`);
// Enabled Deployments that never get a canary: a one-shot action on them is consumed and ignored by the
// watcher, which measures queue wait + one reconcile while the N others are idle or in flight.
const PROBE_NAMESPACE = "scale-probe";
const probeNames = Array.from({ length: 5 }, (_, index) => ({
  namespace: PROBE_NAMESPACE,
  name: `probe-${index}`,
}));
const probeKeys = probeNames.map(({ namespace, name }) => `${namespace}/${name}`);

const rss: { at: number; label: string; kb: number }[] = [];
let label = "start";
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
  const cluster = await startCanaryCluster(cp);
  // The local cluster serves Services from a /16: room for three ClusterIPs per app at any N here.
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(flowSchema) });
  if (applied.code !== 0) throw new Error(applied.stderr);
  await sleep(2_000); // the APF config controller picks the FlowSchema up
  const nodeOptions = process.env.NODE_OPTIONS;
  if (whatIfKeepAlive) {
    const preload = join(cp.dir, "keep-alive-preload.mjs");
    writeFileSync(preload, KEEP_ALIVE_PRELOAD);
    // Only the watcher spawned next inherits it.
    process.env.NODE_OPTIONS = `${nodeOptions ?? ""} --import ${preload}`.trim();
  }
  const watcher = await cluster.startWatcher([
    "--log-level",
    options["watcher-log-level"],
    ...(options.workers ? ["--workers", options.workers] : []),
  ]);
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
  await watcher.waitForLog("watcher started");
  const watcherPid = findPid(
    "serin watch",
    (argv) => argv.includes(serinCli) && argv.includes("watch") && argv.some((arg) => arg.startsWith(cp.dir)),
  );
  const apiserverPid = findPid("kube-apiserver", (argv) =>
    argv.includes(`--cert-dir=${cp.dir}/apiserver-certs`),
  );
  const etcdPid = findPid("etcd", (argv) => argv.some((arg) => arg.startsWith(`--data-dir=${cp.dir}/`)));
  const webhookPid = findPid(
    "serin webhook",
    (argv) => argv.includes(serinCli) && argv.includes(`127.0.0.1:${cluster.webhook.port}`),
  );
  const processes = {
    watcher: watcherPid,
    "kube-apiserver": apiserverPid,
    etcd: etcdPid,
    webhook: webhookPid,
  };
  const cpuNow = () => ({
    ...Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)])),
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
  stops.push(
    await keepWatching(config, "/apis/split.smi-spec.io/v1alpha4/trafficsplits", {}, observeSplit),
    await keepWatching(
      config,
      "/apis/apps/v1/deployments",
      { labelSelector: "serin.dev/canary=enabled" },
      observeDeployment,
    ),
  );

  // Setup: N enabled Deployments, each with its Service, in a handful of namespaces.
  label = "setup";
  const apps = config.makeApiClient(AppsV1Api);
  const core = config.makeApiClient(CoreV1Api);
  for (const namespace of [
    ...Array.from({ length: namespaceCount }, (_, i) => `scale-${i}`),
    PROBE_NAMESPACE,
  ]) {
    const created = await cp.kubectl(["create", "namespace", namespace]);
    if (created.code !== 0) throw new Error(created.stderr);
  }
  const setupStart = performance.now();
  await inParallel([...names, ...probeNames], concurrency, async ({ namespace, name }) => {
    const service = JSON.parse(serviceManifest(name, namespace)) as V1Service;
    // One replica each: the real controllers and kwok run every pod, primary and canary.
    const deployment = JSON.parse(
      deploymentManifest({ name, namespace, annotations, replicas: 1 }),
    ) as V1Deployment;
    await retried(`create Service ${namespace}/${name}`, () =>
      core.createNamespacedService({ namespace, body: service }),
    );
    await retried(`create Deployment ${namespace}/${name}`, () =>
      apps.createNamespacedDeployment({ namespace, body: deployment }),
    );
  });
  log(
    `created ${canaryCount} Services and Deployments in ${fixed((performance.now() - setupStart) / 1000, 1)} s`,
  );
  const allIdle = await until("every Deployment Idle", timeoutMs, () =>
    [...keys, ...probeKeys].every(
      (key) => phaseOf(key) === "Idle" && tracks.get(key)?.splitChanges.at(-1)?.canary === 0,
    ),
  );
  if (!allIdle) throw new Error("the watcher did not bring every Deployment to Idle");
  const setupSeconds = (performance.now() - setupStart) / 1000;
  log(`all ${canaryCount} Idle with a split after ${fixed(setupSeconds, 1)} s`);
  // Each Idle write is followed by reconciles of its own echo and of the status write it causes: let that
  // backlog drain (fewer than N/100 + 1 watcher requests in 2 s) so the idle window measures idling.
  const quietStart = performance.now();
  let previousCount = (await readCounters(cp)).watcher;
  for (;;) {
    await sleep(2_000);
    const count = (await readCounters(cp)).watcher;
    if (count - previousCount <= canaryCount / 100 + 1) break;
    previousCount = count;
    if (performance.now() - quietStart > timeoutMs) throw new Error("the watcher never went quiet");
  }
  const drainSeconds = (performance.now() - quietStart) / 1000;
  log(`watcher quiet ${fixed(drainSeconds, 1)} s after the last Idle`);

  // Idle baseline: the same watcher, the same N enabled Deployments, no canary. The watcher re-enqueues
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

  // Ship v2 to all of them at once: parallel JSON patches of the image, each through serin's webhook.
  label = "inflight";
  loopDelay.enable();
  const flightBefore = await readCounters(cp);
  const flightProbes: number[] = [];
  const stopFlightProbes = startProbes(apps, flightProbes);
  const flightCpuBefore = cpuNow();
  const shipStart = performance.now();
  const body = [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: V2 }];
  await inParallel(names, concurrency, async ({ namespace, name }) => {
    await retried(`ship ${namespace}/${name}`, () =>
      apps.patchNamespacedDeployment({ name, namespace, body }, setHeaderOptions("Content-Type", JSON_PATCH)),
    );
    trackOf(`${namespace}/${name}`).shippedAt = wallNow();
  });
  const shipSeconds = (performance.now() - shipStart) / 1000;
  log(`shipped v2 to ${canaryCount} Deployments in ${fixed(shipSeconds, 1)} s`);
  const succeeded = () => keys.filter((key) => phaseOf(key) === "Succeeded").length;
  let lastReport = performance.now();
  await until("every canary Succeeded", timeoutMs, () => {
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      const inFlight = keys.filter((key) => {
        const phase = phaseOf(key);
        return phase !== "Succeeded" && phase !== "Idle";
      }).length;
      log(`${succeeded()} Succeeded, ${inFlight} in flight`);
    }
    return succeeded() === canaryCount;
  });
  const finished = succeeded();
  await stopFlightProbes();
  // The follow-up reconciles of the last writes belong to the canaries too.
  await sleep(3_000);
  const flightAfter = await readCounters(cp);
  const flightCpuAfter = cpuNow();
  const flightWindowS = (performance.now() - shipStart) / 1000;
  loopDelay.disable();
  label = "end";
  const hwmKb = statusKb(watcherPid, "VmHWM");
  const watcherFds = readdirSync(`/proc/${watcherPid}/fd`).length;
  log(`${finished} of ${canaryCount} Succeeded; in-flight window ${fixed(flightWindowS, 1)} s`);

  // Step timing skew.
  const scheduleSkew: number[] = [];
  const gapSkew: number[] = [];
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
    for (let step = 1; step < sequence.length; step++) {
      const at = seen[step];
      const previous = seen[step - 1];
      const previousStart = track.stepStartedAt.get(step - 1);
      if (at === undefined) continue;
      if (previousStart !== undefined) scheduleSkew.push(at - (previousStart + stepIntervalMs));
      if (previous !== undefined) gapSkew.push(at - previous - stepIntervalMs);
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

  const skewRow = (name: string, s: Summary) =>
    `| ${name} | ${s.n} | ${fixed(s.p50)} | ${fixed(s.p90)} | ${fixed(s.p99)} | ${fixed(s.max)} |`;
  const verbRows = [...flightAfter.byVerb.entries()]
    .map(([key, value]) => [key, value - (flightBefore.byVerb.get(key) ?? 0)] as const)
    .filter(([, delta]) => delta > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 14);
  const cpuRows = Object.keys(flightCpuAfter).map((name) => {
    const idleCpu =
      ((idleCpuAfter[name as keyof typeof idleCpuAfter] as number) -
        (idleCpuBefore[name as keyof typeof idleCpuBefore] as number)) /
      idleWindowS;
    const flightCpu =
      ((flightCpuAfter[name as keyof typeof flightCpuAfter] as number) -
        (flightCpuBefore[name as keyof typeof flightCpuBefore] as number)) /
      flightWindowS;
    return `| ${name} | ${fixed(idleCpu * 100)} % | ${fixed(flightCpu * 100)} % |`;
  });

  const lines = [
    `command: node dist/bench/scale.js ${process.argv.slice(2).join(" ")}`.trimEnd(),
    `${canaryCount} enabled Deployments in ${namespaceCount} namespaces, steps ${stepsText}, step-interval ` +
      `${stepIntervalText}, one serin watch${options.workers ? ` --workers ${options.workers}` : " (default --workers 16)"}` +
      `${whatIfKeepAlive ? " **WHAT-IF: client-node calls over one keep-alive agent (not serin as shipped)**" : ""}; ` +
      `bench clients: ${benchAgent}; ` +
      `v2 shipped by ${concurrency} parallel JSON PATCHes of the image (through serin's webhook) in ${fixed(shipSeconds, 1)} s; ` +
      `${finished} of ${canaryCount} canaries reached Succeeded; ${incomplete} split sequences incomplete`,
    `canaries whose split reached canary weight ${sequence.map((weight, index) => `${weight}: ${reached[index]}`).join(", ")}`,
    "",
    "Step timing skew (observed split weight change minus the step's scheduled time) and latencies, ms:",
    "",
    "| measurement | n | p50 | p90 | p99 | max |",
    "|---|---|---|---|---|---|",
    skewRow(
      "from serin.dev/state: event - (previous stepStartedAt + step-interval)",
      summarize(scheduleSkew),
    ),
    skewRow("from consecutive split events: gap - step-interval", summarize(gapSkew)),
    skewRow("ship PATCH answered -> first step weight (info)", summarize(firstStep)),
    skewRow(
      "one-shot action latency while idle: PATCH sent -> watcher consumed it (probe Deployments)",
      summarize(idleProbes),
    ),
    skewRow("one-shot action latency while N canaries are in flight (same probes)", summarize(flightProbes)),
    skewRow(
      `ship -> Succeeded (info; ${stepCount} holds + promotion = ${fixed(idealSeconds, 0)} s at least)`,
      summarize(lifetime),
    ),
    "",
    "Watcher against its idle baseline (same process, same N enabled Deployments, no canary):",
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
      `${fixed((idleRate * 60) / canaryCount, 2)} per enabled Deployment per minute`,
    `- watcher RSS: ${mib(emptyKb)} MiB with no Deployment, ${mib(idleKb)} MiB with ${canaryCount} idle ` +
      `(${fixed((idleKb - emptyKb) / canaryCount, 1)} KiB each), peak ${mib(peakFlightKb)} MiB in flight: ` +
      `**${fixed((peakFlightKb - idleKb) / canaryCount, 1)} KiB per in-flight canary** over the idle baseline; VmHWM ${mib(hwmKb)} MiB`,
    `- APF for the watcher's FlowSchema (priority level workload-low): rejected (429) ${rejectedIdle} idle, ` +
      `${rejectedInFlight} in flight; mean queue wait ${fixed(meanWaitMs(idleAfter, idleBefore), 2)} ms idle, ` +
      `${fixed(meanWaitMs(flightAfter, flightBefore), 2)} ms in flight; watcher open file descriptors at the end: ${watcherFds}`,
    `- setup (create + watcher brings all to Idle): ${fixed(setupSeconds, 1)} s, then ${fixed(drainSeconds, 1)} s until ` +
      `the watcher went quiet; bench write retries: ${writeRetries}; ` +
      `bench watch restarts: ${watchRestarts}; bench event-loop delay in flight p99 ${fixed(loopDelay.percentile(99) / 1e6, 1)} ms, ` +
      `max ${fixed(loopDelay.max / 1e6, 1)} ms`,
    `- watcher warnings/errors logged: ${warnings.length}` +
      [...warningKinds.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([kind, count]) => `; ${count}x "${kind}"`)
        .join(""),
    "",
    "CPU use (100 % = one core of 2):",
    "",
    "| process | idle window | in-flight window |",
    "|---|---|---|",
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
} finally {
  for (const stop of stops) stop();
  await cp.stop();
}
