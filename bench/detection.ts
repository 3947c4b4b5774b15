import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { PrometheusClient } from "../src/analysis/prometheus.js";
import { DEFAULTS } from "../src/contract/spec.js";
import { keepWatching } from "../src/localcluster/keep-watching.js";
import { startLinkerdMetrics } from "../src/localcluster/linkerd-metrics.js";
import { startPrometheus } from "../src/localcluster/prometheus.js";
import { describeApiError } from "../src/watch/kube.js";
import { installCrds, startControlPlane } from "../test/harness/index.js";
import {
  type AppRef,
  type Arm,
  type CanaryController,
  installSerin,
  type Release,
  SerinController,
} from "./detection-controllers.js";
import {
  type CanaryResult,
  canaryResult,
  groupFigures,
  notPossibleRow,
  type SplitSeen,
  TABLE_HEADER,
  tableRow,
} from "./detection-figures.js";
import { FLAGGER_SETTINGS, FlaggerController } from "./detection-flagger.js";
import {
  ANALYSIS,
  HEALTHY,
  PHASES,
  type Phase,
  SCENARIOS,
  type Scenario,
  SLOW_MS,
} from "./detection-scenarios.js";
import { inParallel } from "./lib/parallel.js";
import { buildPeer } from "./peers/binaries.js";

/**
 * How fast a bad canary is rolled back and how much traffic it hurts first, on the real control plane
 * (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), serin's webhook and watcher,
 * and a real Prometheus scraping every 10 s, as linkerd-viz's does. The traffic is MODELLED: no proxy
 * runs; each app has a fixed request rate split by its TrafficSplit's weights, read from a WATCH
 * (src/localcluster/traffic-model.ts), and the model's counters are served as Linkerd's proxy metrics.
 *
 * Per phase (a first step), every arm (a controller with its settings) runs every scenario at once,
 * N canaries each, in namespaces of their own. Detection time: from the canary's first bad request (the
 * model knows it) to its split at stable 100% on the benchmark's own WATCH. Blast radius: bad requests
 * caused by the canary over all requests from its first request to the rollback (the model's counts).
 * With --flagger, Flagger runs beside serin as one more arm (detection-flagger.ts).
 */
const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    canaries: { type: "string" },
    healthy: { type: "string" },
    rps: { type: "string", default: "100" },
    phases: { type: "string" },
    // Settings to compare, one arm each: "default" is serin's (no annotation); "10s" sets the analysis
    // interval, "10s/1" the interval and the failure limit.
    intervals: { type: "string", default: "default,15s/2" },
    "scrape-interval": { type: "string", default: "10s" },
    seed: { type: "string", default: "1" },
    concurrency: { type: "string", default: "16" },
    // Another build of serin to run as one more arm, e.g. of the commit before this benchmark's changes.
    "baseline-main": { type: "string" },
    "baseline-name": { type: "string", default: "before" },
    "baseline-args": { type: "string", default: "--metrics-window 1m" },
    // The baseline's canaries per bad scenario and healthy ones, per phase (fewer: it only shows the change).
    "baseline-canaries": { type: "string", default: "10" },
    "baseline-healthy": { type: "string", default: "50" },
    // Flagger (built by bench/peers/build.sh) as one more arm, at its Linkerd tutorial's settings.
    flagger: { type: "boolean", default: false },
    "watcher-log-level": { type: "string", default: "info" },
    // Every canary's figures as JSON lines, for a closer look.
    results: { type: "string" },
  },
});

function whole(name: string, text: string | undefined, fallback: number, max: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!(Number.isInteger(value) && value >= 1 && value <= max))
    throw new Error(`--${name} must be a whole number from 1 to ${max}, got ${text}`);
  return value;
}
const quick = options.quick;
const perBadScenario = whole("canaries", options.canaries, quick ? 3 : 20, 200);
const healthyCount = whole("healthy", options.healthy, quick ? 10 : 100, 500);
const rps = Number(options.rps);
if (!(rps > 0 && rps <= 100_000))
  throw new Error(`--rps must be a number of requests a second up to 100000, got ${options.rps}`);
const seed = whole("seed", options.seed, 1, 1_000_000);
const concurrency = whole("concurrency", options.concurrency, 16, 128);
const scrapeText = options["scrape-interval"];
const scrapeMs = /^(\d+)s$/.test(scrapeText) ? Number(scrapeText.slice(0, -1)) * 1000 : Number.NaN;
if (!(scrapeMs >= 1_000 && scrapeMs <= 60_000))
  throw new Error(`--scrape-interval must be whole seconds from 1s to 60s, got ${scrapeText}`);
const phaseIds = (options.phases ?? (quick ? "s1" : PHASES.map((phase) => phase.id).join(","))).split(",");
const phases = phaseIds.map((id) => {
  const phase = PHASES.find((candidate) => candidate.id === id);
  if (!phase) throw new Error(`--phases: unknown phase ${id} (known: ${PHASES.map((p) => p.id).join(", ")})`);
  // Quick: the first two steps only, so the healthy canaries are promoted in about two minutes.
  return quick ? { ...phase, steps: phase.steps.split(",").slice(0, 2).join(","), stepLimit: 2 } : phase;
});
const intervals = options.intervals.split(",").filter(Boolean);
for (const interval of intervals) {
  if (interval !== "default" && !/^\d+s(\/\d{1,2})?$/.test(interval))
    throw new Error(
      `--intervals takes "default", whole seconds such as 10s, or seconds and a failure limit such as 10s/1, got ${interval}`,
    );
}

const log = (message: string) =>
  process.stderr.write(`[${((performance.now() - benchStart) / 1000).toFixed(0)}s] ${message}\n`);
const benchStart = performance.now();
const wallNow = () => performance.timeOrigin + performance.now();
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

interface AppRun {
  app: AppRef;
  arm: Arm;
  release: Release;
  scenario: Scenario;
  phase: Phase;
}

async function retried(what: string, write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (attempt >= 5) throw new Error(`${what}: ${describeApiError(error)}`);
      await sleep(300 * attempt);
    }
  }
}

async function until(limitMs: number, done: () => boolean, report: () => string): Promise<boolean> {
  const deadline = performance.now() + limitMs;
  let reported = performance.now();
  while (!done()) {
    if (performance.now() > deadline) return false;
    if (performance.now() - reported > 30_000) {
      reported = performance.now();
      log(report());
    }
    await sleep(500);
  }
  return true;
}

const namespaceOf = (phase: Phase, arm: Arm, scenario: Scenario) =>
  `det-${phase.id}-${arm.id}-${scenario.id}`;

// Built (or found in the cache) before the cluster starts: a cold build takes minutes.
const flaggerPeer = options.flagger ? await buildPeer("flagger") : undefined;
const cp = await startControlPlane({ readyTimeoutMs: 120_000, controllerManagerQps: 100 });
const stops: (() => Promise<void> | void)[] = [];
const rows: string[] = [];
const loads: string[] = [];
const reasonLines: string[] = [];
const resultLines: string[] = [];
// The model, the WATCHes that time the rollbacks and the scrapes share this process's event loop.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
try {
  await installCrds(cp, ["trafficsplit-smi-upstream"]);
  const install = await installSerin(cp);
  const serin = new SerinController("serin", cp, install, { logLevel: options["watcher-log-level"] });
  const arms: Arm[] = intervals.map((setting) => {
    const [interval, limit] = setting.split("/");
    const annotations: Record<string, string> = {};
    if (setting !== "default") annotations["serin.dev/analysis-interval"] = interval as string;
    if (limit !== undefined) annotations["serin.dev/failure-limit"] = limit;
    return {
      release: (phase: Phase) => serin.release(phase, annotations),
      id: setting === "default" ? "i-default" : `i${interval}${limit === undefined ? "" : `-l${limit}`}`,
      title:
        setting === "default"
          ? `serin, defaults (analysis-interval ${DEFAULTS.analysisInterval}, failure-limit ${DEFAULTS.failureLimit})`
          : `serin, analysis-interval ${interval}${limit === undefined ? "" : `, failure-limit ${limit}`}`,
      controller: serin,
      counts: { bad: perBadScenario, healthy: healthyCount },
    };
  });
  if (options["baseline-main"]) {
    const name = options["baseline-name"];
    const baseline = new SerinController(`serin ${name}`, cp, install, {
      cli: options["baseline-main"],
      args: options["baseline-args"].split(" ").filter(Boolean),
      logLevel: options["watcher-log-level"],
    });
    arms.push({
      id: "base",
      title: `serin ${name}, defaults`,
      controller: baseline,
      release: (phase) => baseline.release(phase, {}),
      counts: {
        bad: whole("baseline-canaries", options["baseline-canaries"], 10, 200),
        healthy: whole("baseline-healthy", options["baseline-healthy"], 50, 500),
      },
    });
  }
  if (flaggerPeer) {
    const flagger = new FlaggerController(cp, flaggerPeer);
    const title = `${flagger.name}, Linkerd defaults`;
    arms.push({
      id: "flagger",
      title,
      controller: flagger,
      release: (phase) => flagger.release(phase, title),
      counts: { bad: perBadScenario, healthy: healthyCount },
    });
  }
  // Which controller works in each namespace, and so which version's WATCH carries its splits.
  const ownerOf = new Map<string, CanaryController>();
  for (const phase of phases)
    for (const arm of arms)
      for (const scenario of SCENARIOS) ownerOf.set(namespaceOf(phase, arm, scenario), arm.controller);
  const routePaths = [...new Set(arms.map((arm) => arm.controller.routes.path))];
  const accepts = (path: string) => (namespace: string) => ownerOf.get(namespace)?.routes.path === path;
  const routes = routePaths.map((path) => {
    const owner = arms.find((arm) => arm.controller.routes.path === path)?.controller as CanaryController;
    return { ...owner.routes, accepts: accepts(path) };
  });
  // One scrape target per modelled pod, found through a file_sd list, as linkerd-viz scrapes each proxy.
  const targetsDir = await mkdtemp(join(tmpdir(), "serin-detection-"));
  stops.push(() => rm(targetsDir, { recursive: true, force: true }));
  const podTargetsFile = join(targetsDir, "pods.json");
  const metrics = await startLinkerdMetrics({
    kubeConfig: cp.kubeConfig(),
    routes,
    seed,
    podTargetsFile,
  });
  stops.push(() => metrics.stop());
  const prometheus = await startPrometheus([], scrapeMs, {
    jobs: [{ name: "linkerd-proxy", targets: [], fileSd: podTargetsFile }],
  });
  stops.push(() => prometheus.stop());

  // The benchmark's own view of every split: the canary weight of each event, as it arrived, read with
  // the backends of the app it belongs to (registered when its phase starts).
  const splits = new Map<string, SplitSeen[]>();
  const splitApps = new Map<string, AppRun>();
  for (const route of routes) {
    const stopSplits = await keepWatching(cp.kubeConfig(), route.path, {}, (type, object) => {
      if (type !== "ADDED" && type !== "MODIFIED") return;
      const { namespace = "", name } =
        (object as { metadata?: { namespace?: string; name?: string } }).metadata ?? {};
      const key = `${namespace}/${name}`;
      const run = splitApps.get(key);
      if (!run || !route.accepts(namespace)) return;
      const split = run.arm.controller.route(run.app);
      const canary = route.read(object, {
        stableService: split.stable.backend,
        canaryService: split.canary.backend,
      }).canary;
      const seen = splits.get(key) ?? [];
      if (seen.at(-1)?.canary !== canary) seen.push({ at: wallNow(), canary });
      splits.set(key, seen);
    });
    stops.push(stopSplits);
  }

  // Every controller starts once, for all the namespaces it will ever work in.
  const controllers = [...new Set(arms.map((arm) => arm.controller))];
  for (const controller of controllers) {
    const namespaces = phases.flatMap((phase) =>
      arms
        .filter((arm) => arm.controller === controller)
        .flatMap((arm) => SCENARIOS.map((s) => namespaceOf(phase, arm, s))),
    );
    await controller.start(namespaces, prometheus.url);
    stops.push(() => controller.stop());
  }
  log(
    `control plane, ${controllers.map((controller) => controller.name).join(", ")}, Prometheus (scrape ${scrapeText}) and the traffic model are up`,
  );

  const settings = [
    `${rps} requests/s to each app's apex Service`,
    `checks \`${ANALYSIS}\``,
    `stable ${HEALTHY.successRatio * 100}% success, latency median ${HEALTHY.latency.medianMs} ms / p99 ${HEALTHY.latency.p99Ms} ms`,
    `Prometheus scrape ${scrapeText}`,
    `per phase: ${arms.map((arm) => `${arm.title}, ${arm.counts.bad} canaries per bad scenario and ${arm.counts.healthy} healthy`).join("; ")}`,
    ...(flaggerPeer ? [FLAGGER_SETTINGS] : []),
  ];

  for (const phase of phases) {
    const phaseStart = performance.now();
    const loadStart = load();
    const releases = new Map<Arm, Release>();
    const impossible: string[] = [];
    for (const arm of arms) {
      const release = arm.release(phase);
      if ("notPossible" in release)
        impossible.push(notPossibleRow(phase.title, arm.title, release.notPossible));
      else releases.set(arm, release);
    }
    if (releases.size === 0) {
      rows.push(...impossible);
      continue;
    }
    const runs: AppRun[] = [...releases.entries()].flatMap(([arm, release]) =>
      SCENARIOS.flatMap((scenario) =>
        Array.from(
          { length: arm.counts[scenario.count ?? (scenario.bad ? "bad" : "healthy")] },
          (_, index) => ({
            app: {
              namespace: namespaceOf(phase, arm, scenario),
              name: `app-${String(index).padStart(3, "0")}`,
            },
            arm,
            release,
            scenario,
            phase,
          }),
        ),
      ),
    );
    log(`phase ${phase.id} (steps ${phase.steps}): ${runs.length} apps`);
    const byNamespace = new Map<string, AppRun[]>();
    for (const run of runs) {
      byNamespace.set(run.app.namespace, [...(byNamespace.get(run.app.namespace) ?? []), run]);
      splitApps.set(`${run.app.namespace}/${run.arm.controller.route(run.app).service}`, run);
    }
    await inParallel([...byNamespace.entries()], 4, async ([namespace, list]) => {
      const created = await cp.kubectl(["create", "namespace", namespace]);
      if (created.code !== 0) throw new Error(created.stderr);
      const items = list.flatMap((run) => run.release.manifests(run.app));
      const applied = await cp.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify({ apiVersion: "v1", kind: "List", items }),
        timeoutMs: 300_000,
      });
      if (applied.code !== 0) throw new Error(`apply in ${namespace}: ${applied.stderr}`);
    });
    const allReady = await until(
      600_000,
      () => runs.every((run) => run.arm.controller.ready(run.app)),
      () => `${runs.filter((run) => run.arm.controller.ready(run.app)).length} of ${runs.length} apps ready`,
    );
    if (!allReady)
      throw new Error(`phase ${phase.id}: not every app became ready for a release in 10 minutes`);
    log(`all ${runs.length} apps ready after ${((performance.now() - phaseStart) / 1000).toFixed(0)} s`);

    for (const run of runs) {
      const split = run.arm.controller.route(run.app);
      metrics.addApp({
        namespace: run.app.namespace,
        service: split.service,
        requestsPerSecond: rps,
        stable: { ...split.stable, behaviour: HEALTHY },
        canary: { ...split.canary, behaviour: run.scenario.canary },
        slowMs: SLOW_MS,
      });
    }
    // Two scrapes of stable-only traffic first, as a running service would have.
    await sleep(2 * scrapeMs);

    const shipStart = performance.now();
    await inParallel(runs, concurrency, (run) =>
      retried(`ship ${run.app.namespace}/${run.app.name}`, () => run.arm.controller.ship(run.app)),
    );
    log(`shipped ${runs.length} canaries in ${((performance.now() - shipStart) / 1000).toFixed(1)} s`);
    // Long enough for a healthy canary of the slowest arm to go through every step and be promoted; a
    // canary still in flight after that is counted as unsettled.
    const limitMs = Math.max(...[...releases.values()].map((release) => release.settleSeconds)) * 1000;
    await until(
      limitMs,
      () => runs.every((run) => run.arm.controller.ended(run.app) !== undefined),
      () => {
        const ended = runs.filter((run) => run.arm.controller.ended(run.app) !== undefined).length;
        return `phase ${phase.id}: ${ended} of ${runs.length} canaries ended`;
      },
    );
    // The model and the benchmark's WATCH may still be on their way to the last split write.
    await sleep(2_000);

    for (const [arm, release] of releases) {
      for (const scenario of SCENARIOS) {
        const results: CanaryResult[] = runs
          .filter((run) => run.arm === arm && run.scenario === scenario)
          .map((run) => {
            const split = run.arm.controller.route(run.app);
            const key = `${run.app.namespace}/${split.service}`;
            return canaryResult(
              run.arm.controller.ended(run.app) ?? "unsettled",
              splits.get(key) ?? [],
              metrics.history(run.app.namespace, split.service),
              scenario,
            );
          });
        rows.push(tableRow(phase.title, release.title ?? arm.title, scenario.title, groupFigures(results)));
        for (const result of results)
          resultLines.push(
            JSON.stringify({ phase: phase.id, arm: arm.id, scenario: scenario.id, ...result }),
          );
      }
    }
    rows.push(...impossible);
    // Why the canaries ended, in each controller's words with the numbers taken out.
    const reasons = new Map<string, number>();
    for (const run of runs) {
      const ended = run.arm.controller.ended(run.app) ?? "unsettled";
      const text = `${phase.id} ${run.arm.id} ${run.scenario.id} (${ended}): ${(run.arm.controller.reason(run.app) ?? "").replace(/evision [0-9a-f]{10}/, "evision R").replace(/\d+(\.\d+)?/g, "N")}`;
      reasons.set(text, (reasons.get(text) ?? 0) + 1);
    }
    for (const [text, count] of [...reasons.entries()].sort()) reasonLines.push(`- ${count} x ${text}`);
    for (const run of runs) metrics.removeApp(run.app.namespace, run.arm.controller.route(run.app).service);
    const seconds = ((performance.now() - phaseStart) / 1000).toFixed(0);
    loads.push(`| ${phase.title} | ${loadStart} | ${load()} | ${seconds} |`);
    log(`phase ${phase.id} done in ${seconds} s`);
    // Out of the way of the next phase; the controllers ignore what they no longer see.
    await Promise.all(
      [...byNamespace.keys()].map((namespace) =>
        cp.kubectl(["delete", "namespace", namespace, "--wait=false"]),
      ),
    );
  }

  const client = new PrometheusClient(new URL(prometheus.url));
  const window = `${Math.ceil((performance.now() - benchStart) / 60_000) + 1}m`;
  const scrapeMax = await client.query(`max(max_over_time(scrape_duration_seconds[${window}]))`);
  const upMin = await client.query(`min(min_over_time(up[${window}]))`);
  const targetsMax = await client.query(`max_over_time(count(up)[${window}:30s])`);

  if (options.results) writeFileSync(options.results, `${resultLines.join("\n")}\n`);
  const command = `node dist/bench/detection.js ${process.argv.slice(2).join(" ")}`.trim();
  process.stdout.write(
    [
      "## Detection time and blast radius",
      "",
      `    ${command}`,
      "",
      ...settings.map((line) => `- ${line}`),
      `- this process's event loop (the model, the scrapes, the WATCHes that time the rollbacks) was held up ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms at p99, ${(loopDelay.max / 1e6).toFixed(0)} ms at most`,
      `- the model's route WATCH saw ${metrics.routeEvents()} split events; Prometheus scraped up to ${targetsMax} modelled pods, one target each; its slowest scrape took ${scrapeMax?.toFixed(2)} s, and ${upMin === 1 ? "no" : "some"} scrape failed`,
      "",
      ...TABLE_HEADER,
      ...rows,
      "",
      "| phase | load average at start (1, 5, 15 min) | at end | seconds |",
      "|---|---|---|---|",
      ...loads,
      "",
      "Why the canaries ended (each controller's message, numbers replaced by N):",
      "",
      ...reasonLines,
      "",
    ].join("\n"),
  );
} finally {
  for (const stop of stops.reverse()) await stop();
  await cp.stop();
}
