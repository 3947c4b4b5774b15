import { availableParallelism, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { AppsV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { Journey, startCanaryCluster } from "../test/e2e/journey.js";
import { deploymentManifest } from "../test/fixtures/manifests.js";
import { installCrds, startControlPlane } from "../test/harness/index.js";
import {
  floorSplit,
  phaseIs,
  rearm,
  SPLIT,
  splitAt,
  type TrialClients,
  timeAbort,
  timePatchFloor,
  timeWatchFloor,
} from "./lib/abort-trial.js";
import { type KeepAliveClient, keepAliveClient } from "./lib/keep-alive.js";
import { type Summary, summarize } from "./lib/stats.js";
import { WatchedEvents, wallNow } from "./lib/watched-events.js";

/**
 * Time from a `serin.dev/action=abort` edit to the traffic split at stable 100%, on a real
 * kube-apiserver with `serin watch` as its own process. The split is observed with a WATCH, so the
 * resolution is the event delivery. Floors measured in the same run, interleaved with the trials: a
 * plain PATCH round trip on an unlabelled Deployment, and a PATCH of a TrafficSplit to its watch event.
 * The same trial runs under load in bench/scale.ts (--abort-probes).
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
const WEB = { namespace: NAMESPACE, name: "web" };
const FLOOR = { namespace: NAMESPACE, name: "floor" };
const PROBE = { namespace: NAMESPACE, name: "probe" };
const ANNOTATIONS = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };
const TIMEOUT_MS = 30_000;

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
let keepAlive: KeepAliveClient | undefined;
try {
  await installCrds(cp, ["trafficsplit-smi-upstream"]);
  const cluster = await startCanaryCluster(cp);
  const watcher = await cluster.startWatcher(breakdown ? ["--log-level", "debug"] : []);
  await watcher.waitForLog("watcher started");

  const journey = new Journey(cp, NAMESPACE, { kind: "trafficsplit", version: SPLIT.version });
  await journey.create({ annotations: ANNOTATIONS });
  await journey.apply(deploymentManifest({ name: FLOOR.name, enabled: false }));
  const config = cp.kubeConfig();
  const clients: TrialClients = {
    apps: config.makeApiClient(AppsV1Api),
    objects: config.makeApiClient(CustomObjectsApi),
    splits: watchSplits,
    deployments: watchDeployments,
  };
  await clients.objects.createNamespacedCustomObject({
    ...SPLIT,
    namespace: NAMESPACE,
    body: floorSplit(PROBE),
  });
  await watchSplits.start();
  await watchDeployments.start();

  const firstStep = watchSplits.next(splitAt(WEB, 1_000), "web at canary 1000 after v2");
  const progressing = watchDeployments.next(phaseIs(WEB, "Progressing", 10), "web Progressing at 10%");
  await journey.ship("registry.example/web:2.0.0", { annotations: ANNOTATIONS });
  await Promise.all([firstStep, progressing]);
  await sleep(settleMs);
  keepAlive = await keepAliveClient(config);
  const floorPath = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${FLOOR.name}`;

  const samples = {
    patchFloor: [] as number[],
    keepAliveFloor: [] as number[],
    watchFloor: [] as number[],
    abortResponse: [] as number[],
    abort: [] as number[],
    retry: [] as number[],
  };
  const abortWall: { sent: number; seen: number }[] = [];
  for (let trial = -warmup; trial < trials; trial++) {
    const mark = String(trial);
    const patchFloor = await timePatchFloor(clients, FLOOR, mark);
    const t0 = wallNow();
    await keepAlive.patch(floorPath, {
      metadata: { annotations: { "bench.serin.dev/trial": `${mark}-keep-alive` } },
    });
    const keepAliveFloor = wallNow() - t0;
    const watchFloor = await timeWatchFloor(clients, PROBE, mark);
    const abort = await timeAbort(clients, WEB, TIMEOUT_MS);
    const retry = await rearm(clients, WEB, 1_000, TIMEOUT_MS);
    if (trial >= 0) {
      samples.patchFloor.push(patchFloor);
      samples.keepAliveFloor.push(keepAliveFloor);
      samples.watchFloor.push(watchFloor);
      samples.abortResponse.push(abort.response);
      samples.abort.push(abort.latency);
      samples.retry.push(retry);
      abortWall.push({ sent: abort.sentAt, seen: abort.seenAt });
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
