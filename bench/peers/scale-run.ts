// One controller, N apps, a fresh local control plane: set the apps up, measure the controller idle, ship
// a new version to all N at once, and measure until every app is promoted or the run stalls.
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ControlPlane, installCrds, startControlPlane } from "../../src/localcluster/index.js";
import { describeApiError } from "../../src/watch/kube.js";
import { RawJsonClient } from "../../src/watch/raw-json.js";
import { flowSchemaTotal, parseMetrics, serviceAccountFlowSchema } from "../lib/apf.js";
import { inParallel } from "../lib/parallel.js";
import { cpuSeconds, statusKb } from "../lib/proc.js";
import { summarize } from "../lib/stats.js";
import { type App, type AppSpec, appKey, type Contender, type RunningController } from "./contender.js";
import { firstAt, perStepPerApp, stepTimes } from "./figures.js";
import { Observer, wallNow } from "./observe.js";
import type { ScaleResult } from "./results.js";
import { createObjects, send } from "./writes.js";

export interface ScaleOptions {
  apps: number;
  /** Worker count, or undefined for the controller's default. */
  concurrency: number | undefined;
  /** Further flags for the controller in this setting. */
  extraArgs: readonly string[];
  steps: readonly number[];
  stepSeconds: number;
  idleSeconds: number;
  /** The bound on ship -> all promoted; past it the run stalled. */
  stallSeconds: number;
  /** Parallel writes of the benchmark when creating and shipping. */
  writers: number;
  gate: AppSpec["gate"];
  log: (message: string) => void;
  /** Keep the control plane's folder (every component's log) after the run. */
  keepDir: boolean;
}

export const V1 = "registry.example/web:1.0.0";
export const V2 = "registry.example/web:2.0.0";

interface Counters {
  controller: number;
  rejected: number;
  /** Requests of every flow but the exempt one (the benchmark's own, as admin). */
  cluster: number;
}

async function readCounters(cp: ControlPlane, flowSchema: string): Promise<Counters> {
  const { status, body } = await cp.get("/metrics");
  if (status !== 200) throw new Error(`GET /metrics answered ${status}`);
  const dispatched = "apiserver_flowcontrol_dispatched_requests_total";
  return {
    controller: flowSchemaTotal(body, dispatched, flowSchema),
    rejected: flowSchemaTotal(body, "apiserver_flowcontrol_rejected_requests_total", flowSchema),
    cluster: parseMetrics(body, dispatched)
      .filter((sample) => sample.labels.flow_schema !== "exempt")
      .reduce((sum, sample) => sum + sample.value, 0),
  };
}

const mib = (kb: number) => kb / 1024;

export async function runScale(contender: Contender, options: ScaleOptions): Promise<ScaleResult> {
  const { log } = options;
  const loadStart = loadavg();
  const date = new Date().toISOString();
  const n = options.apps;
  const namespaceCount = Math.min(10, n);
  const apps: App[] = Array.from({ length: n }, (_, index) => ({
    namespace: `apps-${index % namespaceCount}`,
    name: `app-${String(index).padStart(4, "0")}`,
  }));
  const spec: AppSpec = {
    steps: options.steps,
    stepSeconds: options.stepSeconds,
    image: V1,
    gate: options.gate,
  };
  const flowSchema = `bench-${contender.id}`;
  const stepMs = options.stepSeconds * 1000;
  const weights = options.steps.map((step) => Math.round(step * 100));

  // A thousand apps: the controller manager gets the client rate a large cluster gives it (as the
  // scale benchmark does), or its default 20 requests a second paces every ReplicaSet and pod.
  const cp = await startControlPlane({
    readyTimeoutMs: 120_000,
    controllerManagerQps: 200,
    keepDir: options.keepDir,
  });
  const observer = new Observer(cp.kubeConfig(), contender);
  if (options.keepDir) options.log(`${contender.title}: logs kept in ${cp.dir}`);
  let sampler: NodeJS.Timeout | undefined;
  try {
    await installCrds(cp, ["trafficsplit-smi-upstream"]);
    await contender.install(cp);
    const account = contender.serviceAccount;
    const applied = await cp.kubectl(["apply", "-f", "-"], {
      input: JSON.stringify(serviceAccountFlowSchema(flowSchema, account.namespace, account.name)),
    });
    if (applied.code !== 0) throw new Error(`FlowSchema ${flowSchema}: ${applied.stderr.trim()}`);
    await sleep(2_000); // the APF configuration controller picks the FlowSchema up
    const controller: RunningController = await contender.start(cp, {
      concurrency: options.concurrency,
      extraArgs: options.extraArgs,
      logFile: join(cp.dir, `${contender.id}.log`),
    });
    const cpuNow = () => controller.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    let phase: "setup" | "idle" | "inflight" | "end" = "setup";
    const rss: { phase: string; kb: number }[] = [];
    sampler = setInterval(() => {
      try {
        rss.push({ phase, kb: controller.pids().reduce((sum, pid) => sum + statusKb(pid, "VmRSS"), 0) });
      } catch {
        // the process is gone; the run fails elsewhere
      }
    }, 500);

    observer.track(apps);
    await observer.start();
    const raw = new RawJsonClient(cp.kubeConfig(), "bench");
    const setupStart = wallNow();
    const namespaces = [...new Set(apps.map((app) => app.namespace))];
    await createObjects(
      raw,
      namespaces.map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      options.writers,
    );
    await createObjects(
      raw,
      namespaces.flatMap((namespace) => contender.namespaceObjects(namespace, spec)),
      options.writers,
    );
    await inParallel(apps, options.writers, (app) => createObjects(raw, contender.appObjects(app, spec), 1));
    const keys = apps.map(appKey);
    const count = (state: string) => keys.filter((key) => observer.state(key) === state).length;
    // Setting the apps up is bounded like the canaries: a controller that cannot bring N apps to their
    // starting state within the stall bound has stalled at N.
    const setupReady = await observer
      .when(() => count("ready") === n, `all ${n} apps ready`, options.stallSeconds * 1000)
      .then(() => true)
      .catch(() => false);
    if (!setupReady) {
      log(`${contender.title}: stalled in set-up, ${count("ready")} of ${n} apps ready`);
      return setupStalled(contender, options, { date, loadStart, ready: count("ready") });
    }
    log(`${contender.title}: ${n} apps ready after ${((wallNow() - setupStart) / 1000).toFixed(1)} s`);

    // Let the set-up's follow-up work finish: wait until the controller's request rate over 5 s
    // stops falling (it never reaches zero for a controller that polls).
    const quietStart = wallNow();
    let previousRate = Number.POSITIVE_INFINITY;
    let previous = (await readCounters(cp, flowSchema)).controller;
    for (;;) {
      await sleep(5_000);
      const now = (await readCounters(cp, flowSchema)).controller;
      const rate = (now - previous) / 5;
      previous = now;
      if (rate >= previousRate * 0.8 - 1 || wallNow() - quietStart > 180_000) break;
      previousRate = rate;
    }

    // Idle baseline: the same controller with the same N apps, nothing shipped.
    phase = "idle";
    const idleBefore = await readCounters(cp, flowSchema);
    const idleCpuBefore = cpuNow();
    const idleStart = wallNow();
    await sleep(options.idleSeconds * 1000);
    const idleAfter = await readCounters(cp, flowSchema);
    const idleCpu = cpuNow() - idleCpuBefore;
    const idleSeconds = (wallNow() - idleStart) / 1000;
    const idlePerSecond = (idleAfter.controller - idleBefore.controller) / idleSeconds;
    const clusterIdlePerSecond = (idleAfter.cluster - idleBefore.cluster) / idleSeconds;
    log(`${contender.title}: idle ${idlePerSecond.toFixed(1)} requests/s`);

    // Ship the new version to all N at once.
    phase = "inflight";
    options.gate.resetCalls();
    observer.image = V2;
    const flightBefore = await readCounters(cp, flowSchema);
    const flightCpuBefore = cpuNow();
    const shipStart = wallNow();
    const shippedAt = new Map<string, number>();
    await inParallel(apps, options.writers, async (app) => {
      const sent = wallNow();
      await send(raw, contender.ship(app, V2), `ship ${appKey(app)}`);
      shippedAt.set(appKey(app), sent);
    });
    log(`${contender.title}: shipped to ${n} apps in ${((wallNow() - shipStart) / 1000).toFixed(1)} s`);
    const deadline = shipStart + options.stallSeconds * 1000;
    let lastReport = wallNow();
    while (count("promoted") + count("failed") < n && wallNow() < deadline) {
      await sleep(500);
      if (wallNow() - lastReport > 15_000) {
        lastReport = wallNow();
        log(`${contender.title}: ${count("promoted")} promoted, ${count("failed")} failed of ${n}`);
      }
    }
    const promoted = count("promoted");
    const failed = count("failed");
    // The follow-up requests of the last promotions belong to the canaries too.
    await sleep(3_000);
    const flightAfter = await readCounters(cp, flowSchema);
    const flightCpu = cpuNow() - flightCpuBefore;
    const windowSeconds = (wallNow() - shipStart) / 1000;
    phase = "end";
    const loadEnd = loadavg();

    const skews: number[] = [];
    const firstSteps: number[] = [];
    const lifetimes: number[] = [];
    let complete = 0;
    let lastPromoted = shipStart;
    for (const key of keys) {
      const shipped = shippedAt.get(key) ?? shipStart;
      const times = stepTimes(observer.splits.get(key) ?? [], weights, shipped, stepMs);
      skews.push(...times.skews);
      if (times.firstStep !== undefined) firstSteps.push(times.firstStep);
      if (times.arrivals.every((at) => at !== undefined)) complete += 1;
      const done = firstAt(observer.states.get(key), "promoted", shipped);
      if (done !== undefined) {
        lifetimes.push(done - shipped);
        lastPromoted = Math.max(lastPromoted, done);
      }
    }
    const inFlight = flightAfter.controller - flightBefore.controller;
    const stepCount = options.steps.length;
    const gateCalls = [...options.gate.calls.values()].reduce((sum, calls) => sum + calls, 0);
    const idleRss = summarize(rss.filter((sample) => sample.phase === "idle").map((s) => s.kb)).p50;
    const peakRss = Math.max(...rss.filter((sample) => sample.phase === "inflight").map((s) => s.kb));
    return {
      kind: "scale",
      controller: contender.id,
      title: contender.title,
      version: contender.version,
      concurrency: options.concurrency ?? contender.concurrency.default,
      concurrencyFlag: contender.concurrency.flag,
      defaultConcurrency: options.concurrency === undefined,
      extraArgs: [...options.extraArgs],
      settings: contender.settings,
      date,
      loadavg: { start: loadStart, end: loadEnd },
      apps: n,
      readyBeforeShip: n,
      promoted,
      failed,
      stalled: promoted < n,
      ...(promoted < n ? { stalledIn: "canaries" as const } : {}),
      stallSeconds: options.stallSeconds,
      skewMs: summarize(skews),
      firstStepMs: summarize(firstSteps),
      lifetimeMs: summarize(lifetimes),
      allPromotedSeconds: promoted === n ? (lastPromoted - shipStart) / 1000 : null,
      completeSequences: complete,
      requests: {
        windowSeconds,
        inFlight,
        idlePerSecond,
        perStepPerApp: perStepPerApp(inFlight, idlePerSecond, windowSeconds, n, stepCount),
        rawPerStepPerApp: inFlight / (n * stepCount),
        idlePerAppPerMinute: (idlePerSecond * 60) / n,
        rejected: flightAfter.rejected - idleBefore.rejected,
        clusterPerStepPerApp: perStepPerApp(
          flightAfter.cluster - flightBefore.cluster,
          clusterIdlePerSecond,
          windowSeconds,
          n,
          stepCount,
        ),
      },
      cpu: {
        inFlightSeconds: flightCpu,
        idleCoreShare: idleCpu / idleSeconds,
        inFlightCoreShare: flightCpu / windowSeconds,
      },
      rssMiB: { idle: mib(idleRss), peak: mib(peakRss) },
      gateCallsPerApp: gateCalls / n,
      watchRestarts: observer.watchRestarts,
    };
  } catch (error) {
    throw new Error(`${contender.title} with ${n} apps: ${describeApiError(error)}`);
  } finally {
    if (sampler) clearInterval(sampler);
    observer.stop();
    await cp.stop();
  }
}

/** The result of a run whose apps never all reached their starting state: nothing else was measured. */
function setupStalled(
  contender: Contender,
  options: ScaleOptions,
  run: { date: string; loadStart: number[]; ready: number },
): ScaleResult {
  const none = summarize([]);
  return {
    kind: "scale",
    controller: contender.id,
    title: contender.title,
    version: contender.version,
    concurrency: options.concurrency ?? contender.concurrency.default,
    concurrencyFlag: contender.concurrency.flag,
    defaultConcurrency: options.concurrency === undefined,
    settings: contender.settings,
    date: run.date,
    loadavg: { start: run.loadStart, end: loadavg() },
    apps: options.apps,
    readyBeforeShip: run.ready,
    stalledIn: "setup",
    promoted: 0,
    failed: 0,
    stalled: true,
    stallSeconds: options.stallSeconds,
    skewMs: none,
    firstStepMs: none,
    lifetimeMs: none,
    allPromotedSeconds: null,
    completeSequences: 0,
    requests: {
      windowSeconds: Number.NaN,
      inFlight: Number.NaN,
      idlePerSecond: Number.NaN,
      perStepPerApp: Number.NaN,
      rawPerStepPerApp: Number.NaN,
      idlePerAppPerMinute: Number.NaN,
      rejected: 0,
      clusterPerStepPerApp: Number.NaN,
    },
    cpu: { inFlightSeconds: Number.NaN, idleCoreShare: Number.NaN, inFlightCoreShare: Number.NaN },
    rssMiB: { idle: Number.NaN, peak: Number.NaN },
    gateCallsPerApp: 0,
    watchRestarts: 0,
  };
}
