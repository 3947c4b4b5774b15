import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { availableParallelism, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { AppsV1Api, CustomObjectsApi, type KubeConfig, Watch } from "@kubernetes/client-node";
import { readTrafficSplitWeights } from "../src/routers/smi.js";
import { mergePatch } from "../src/watch/kube.js";
import { Journey, startCanaryCluster } from "../test/e2e/journey.js";
import { deploymentManifest } from "../test/fixtures/manifests.js";
import { type ControlPlane, installCrds, startControlPlane } from "../test/harness/index.js";

/**
 * Time from a `serin.dev/action=abort` edit to the traffic split at stable 100%, on a real
 * kube-apiserver with `serin watch` as its own process. The split is observed with a WATCH, so the
 * resolution is the event delivery. Floors measured in the same run, interleaved with the trials: a
 * plain PATCH round trip on an unlabelled Deployment, and a PATCH of a TrafficSplit to its watch event.
 */
const { values: options } = parseArgs({
  options: {
    trials: { type: "string", default: "100" },
    warmup: { type: "string", default: "5" },
    // Quiet time after each retry, so a trial never lands on the watcher's own follow-up reconcile.
    settle: { type: "string", default: "300" },
    // Runs the watcher at --log-level debug and splits the abort latency at its "performing writeRoute" line.
    breakdown: { type: "boolean", default: false },
  },
});
const trials = Number(options.trials);
const warmup = Number(options.warmup);
const settleMs = Number(options.settle);
const breakdown = options.breakdown;

const NAMESPACE = "abort";
const SPLIT = { group: "split.smi-spec.io", version: "v1alpha4", plural: "trafficsplits" } as const;
const ACTION = "serin.dev/action";
const TRIAL = "bench.serin.dev/trial";
const ANNOTATIONS = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };

interface Meta {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** A WATCH whose events resolve waiters registered before the write they wait for; timestamps at arrival. */
class WatchedEvents {
  private waiters: { match: (object: Meta) => boolean; resolve: (at: number) => void }[] = [];
  private controller: AbortController | undefined;
  private failed: unknown;

  constructor(
    private readonly config: KubeConfig,
    private readonly path: string,
  ) {}

  async start(): Promise<void> {
    this.controller = await new Watch(this.config).watch(
      this.path,
      {},
      (_type, object: Meta) => {
        const at = performance.now();
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.match(object)) return true;
          waiter.resolve(at);
          return false;
        });
      },
      (error: unknown) => {
        this.failed = error ?? new Error(`watch on ${this.path} ended`);
      },
    );
  }

  /** Registers now; resolves with the arrival time of the first later event that matches. */
  next(match: (object: Meta) => boolean, what: string, timeoutMs = 30_000): Promise<number> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no watch event: ${what}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      });
    });
  }

  stop(): void {
    this.failed = new Error("stopped");
    this.controller?.abort();
  }
}

const named = (name: string) => (object: Meta) => object.metadata?.name === name;
const canaryAt = (weight: number) => (object: Meta) =>
  named("web")(object) && readTrafficSplitWeights(object).canary === weight;
const phaseIs = (phase: string, weight: string) => (object: Meta) => {
  const labels = object.metadata?.labels ?? {};
  return (
    named("web")(object) &&
    labels["serin.dev/phase"] === phase &&
    labels["serin.dev/weight"] === weight &&
    object.metadata?.annotations?.[ACTION] === undefined
  );
};

/** One PATCH over a connection kept alive between calls: what the round trip costs without a TLS handshake. */
async function keepAlivePatcher(cp: ControlPlane, path: string) {
  const config = cp.kubeConfig();
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  await config.applyToHTTPSOptions(tls);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: tls.ca, cert: tls.cert, key: tls.key });
  const url = new URL(cp.server + path);
  const patch = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: "PATCH", agent, headers: { "content-type": "application/merge-patch+json" } },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`PATCH ${path}: ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return { patch, close: () => agent.destroy() };
}

interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { n: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted.at(-1) ?? Number.NaN };
}

const ms = (value: number) => value.toFixed(1);

const started = performance.now();
const loadAtStart = loadavg()[0] ?? Number.NaN;
const cp = await startControlPlane();
const watchSplits = new WatchedEvents(
  cp.kubeConfig(),
  `/apis/${SPLIT.group}/${SPLIT.version}/namespaces/${NAMESPACE}/trafficsplits`,
);
const watchDeployments = new WatchedEvents(
  cp.kubeConfig(),
  `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
);
let keepAlive: Awaited<ReturnType<typeof keepAlivePatcher>> | undefined;
try {
  await installCrds(cp, ["trafficsplit-smi-upstream"]);
  const cluster = await startCanaryCluster(cp);
  const watcher = await cluster.startWatcher(breakdown ? ["--log-level", "debug"] : []);
  await watcher.waitForLog("watcher started");

  const journey = new Journey(cp, NAMESPACE, { kind: "trafficsplit", version: SPLIT.version });
  await journey.create({ annotations: ANNOTATIONS });
  await journey.apply(deploymentManifest({ name: "floor", enabled: false }));
  const config = cp.kubeConfig();
  const apps = config.makeApiClient(AppsV1Api);
  const objects = config.makeApiClient(CustomObjectsApi);
  // A TrafficSplit no Deployment owns: the watcher never writes it, so its events are the bench's alone.
  await objects.createNamespacedCustomObject({
    ...SPLIT,
    namespace: NAMESPACE,
    body: {
      apiVersion: `${SPLIT.group}/${SPLIT.version}`,
      kind: "TrafficSplit",
      metadata: { name: "probe", namespace: NAMESPACE },
      spec: {
        service: "probe",
        backends: [
          { service: "probe-stable", weight: 10_000 },
          { service: "probe-canary", weight: 0 },
        ],
      },
    },
  });
  await watchSplits.start();
  await watchDeployments.start();

  const firstStep = watchSplits.next(canaryAt(1_000), "web at canary 1000 after v2");
  const progressing = watchDeployments.next(phaseIs("Progressing", "10"), "web Progressing at 10%");
  await journey.ship("registry.example/web:2.0.0", { annotations: ANNOTATIONS });
  await Promise.all([firstStep, progressing]);
  await sleep(settleMs);
  keepAlive = await keepAlivePatcher(cp, `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/floor`);

  const samples = {
    patchFloor: [] as number[],
    keepAliveFloor: [] as number[],
    watchFloor: [] as number[],
    abortResponse: [] as number[],
    abort: [] as number[],
    retry: [] as number[],
  };
  const abortWall: { sent: number; seen: number }[] = [];
  const annotate = (value: string) => ({ metadata: { annotations: { [TRIAL]: value } } });
  for (let trial = -warmup; trial < trials; trial++) {
    const keep = trial >= 0;
    const mark = String(trial);

    let t0 = performance.now();
    await apps.patchNamespacedDeployment(
      { name: "floor", namespace: NAMESPACE, body: annotate(mark) },
      mergePatch,
    );
    const patchFloor = performance.now() - t0;

    t0 = performance.now();
    await keepAlive.patch(JSON.stringify(annotate(`${mark}-keep-alive`)));
    const keepAliveFloor = performance.now() - t0;

    const probed = watchSplits.next(
      (object) => named("probe")(object) && object.metadata?.annotations?.[TRIAL] === mark,
      `probe split annotated ${mark}`,
    );
    t0 = performance.now();
    await objects.patchNamespacedCustomObject(
      { ...SPLIT, namespace: NAMESPACE, name: "probe", body: annotate(mark) },
      mergePatch,
    );
    const watchFloor = (await probed) - t0;

    // Waiters first: the events may arrive before the PATCH's own response.
    const stableOnly = watchSplits.next(canaryAt(0), `trial ${mark}: web at canary 0`);
    const aborted = watchDeployments.next(phaseIs("Aborted", "0"), `trial ${mark}: web Aborted`);
    const abortSent = performance.now();
    await apps.patchNamespacedDeployment(
      { name: "web", namespace: NAMESPACE, body: { metadata: { annotations: { [ACTION]: "abort" } } } },
      mergePatch,
    );
    const abortResponse = performance.now() - abortSent;
    const abortSeen = await stableOnly;
    const abort = abortSeen - abortSent;
    await aborted;

    const back = watchSplits.next(canaryAt(1_000), `trial ${mark}: web back at canary 1000`);
    const restarted = watchDeployments.next(phaseIs("Progressing", "10"), `trial ${mark}: web Progressing`);
    t0 = performance.now();
    await apps.patchNamespacedDeployment(
      { name: "web", namespace: NAMESPACE, body: { metadata: { annotations: { [ACTION]: "retry" } } } },
      mergePatch,
    );
    const retry = (await back) - t0;
    await restarted;

    if (keep) {
      samples.patchFloor.push(patchFloor);
      samples.keepAliveFloor.push(keepAliveFloor);
      samples.watchFloor.push(watchFloor);
      samples.abortResponse.push(abortResponse);
      samples.abort.push(abort);
      samples.retry.push(retry);
      abortWall.push({
        sent: performance.timeOrigin + abortSent,
        seen: performance.timeOrigin + abortSeen,
      });
    }
    await sleep(settleMs);
  }

  const floor = summarize(samples.patchFloor);
  const rows: [string, Summary][] = [
    ["PATCH floor: annotation on an unlabelled Deployment, client-node (new TLS connection)", floor],
    ["PATCH floor, keep-alive connection (no handshake)", summarize(samples.keepAliveFloor)],
    ["watch-delivery floor: PATCH of a TrafficSplit -> its WATCH event", summarize(samples.watchFloor)],
    ["abort PATCH response (through serin's webhook)", summarize(samples.abortResponse)],
    ["**abort: PATCH sent -> WATCH event split canary 0**", summarize(samples.abort)],
    ["retry: PATCH sent -> split back at canary 1000 (info)", summarize(samples.retry)],
  ];
  if (breakdown) {
    // pino's `time` is Date.now() in the watcher process: same host clock, 1 ms resolution.
    const starts = watcher
      .logs()
      .filter((entry) => entry.msg === "performing" && entry.action === "writeRoute")
      .map((entry) => entry.time as number);
    const toWrite: number[] = [];
    const written: number[] = [];
    for (const { sent, seen } of abortWall) {
      const start = starts.find((time) => time >= Math.floor(sent) && time <= seen);
      if (start === undefined) continue;
      toWrite.push(start - sent);
      written.push(seen - start);
    }
    rows.push(
      ["breakdown: PATCH sent -> watcher logs 'performing writeRoute'", summarize(toWrite)],
      ["breakdown: 'performing writeRoute' -> WATCH event split canary 0", summarize(written)],
    );
  }
  const abort = summarize(samples.abort);
  const watchFloor = summarize(samples.watchFloor);
  const lines = [
    `command: node dist/bench/abort-latency.js ${process.argv.slice(2).join(" ")}`.trimEnd(),
    `trials: ${trials} (after ${warmup} warm-up trials); steps 10,50, step-interval 1h; canary at 10% ` +
      "(TrafficSplit canary weight 1000) before each abort; action set by a JSON merge PATCH through client-node",
    "",
    "| measurement | n | p50 ms | p90 ms | p99 ms | max ms | p50 / PATCH floor | p99 / PATCH floor |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      ([name, s]) =>
        `| ${name} | ${s.n} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ` +
        `${(s.p50 / floor.p50).toFixed(2)} | ${(s.p99 / floor.p99).toFixed(2)} |`,
    ),
    "",
    `abort p99 ${ms(abort.p99)} ms: ${abort.p99 <= 100 ? "meets" : "misses"} the target p99 <= 100 ms; ` +
      `ratio abort/PATCH floor p50 ${(abort.p50 / floor.p50).toFixed(2)}, p99 ${(abort.p99 / floor.p99).toFixed(2)}; ` +
      `abort/watch-delivery floor p50 ${(abort.p50 / watchFloor.p50).toFixed(2)}, p99 ${(abort.p99 / watchFloor.p99).toFixed(2)}`,
    `whole run: ${((performance.now() - started) / 1000).toFixed(0)} s; load average (1 min) at start ` +
      `${loadAtStart.toFixed(2)}, at end ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} cores` +
      (breakdown ? "; watcher at --log-level debug" : ""),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  watchSplits.stop();
  watchDeployments.stop();
  keepAlive?.close();
  await cp.stop();
}
