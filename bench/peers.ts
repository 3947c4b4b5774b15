import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { argoRollouts } from "./peers/argo-rollouts.js";
import { buildPeers } from "./peers/binaries.js";
import type { Contender } from "./peers/contender.js";
import { flagger } from "./peers/flagger.js";
import { startGate } from "./peers/gate.js";
import { rollbackTable, scaleTables } from "./peers/report.js";
import {
  appendResult,
  type RollbackResult,
  readResults,
  type ScaleResult,
  settingKey,
} from "./peers/results.js";
import { runRollback } from "./peers/rollback-run.js";
import { runScale } from "./peers/scale-run.js";
import { serin } from "./peers/serin.js";

/**
 * serin, Flagger and Argo Rollouts doing the same work on the same machine in the same invocation, each
 * on a fresh local control plane with the real controllers and kwok: N apps with the same canary plan
 * (steps 10,20,30,40,50 every 10 s, one always-passing gate per step), a new version shipped to all N at
 * once; then one canary rolled back, trial after trial. Each result is appended to --results as it is
 * measured, and the tables are printed from everything in that file.
 */
const { values: options } = parseArgs({
  options: {
    apps: { type: "string", default: "10,50,100,200,500,1000" },
    controllers: { type: "string", default: "serin,flagger,argo-rollouts" },
    // Worker counts for the peers besides their defaults ("" for the defaults only).
    "raised-concurrency": { type: "string", default: "16" },
    trials: { type: "string", default: "30" },
    warmup: { type: "string", default: "2" },
    "idle-seconds": { type: "string", default: "60" },
    "stall-seconds": { type: "string", default: "600" },
    writers: { type: "string", default: "32" },
    results: { type: "string", default: "bench/results-peers.jsonl" },
    // A further setting, CONTROLLER:WORKERS:FLAGS, e.g. "argo-rollouts:16:--qps 200 --burst 400"; repeatable.
    extra: { type: "string", multiple: true, default: [] },
    // Run only the --extra settings (to add a column to results measured before).
    "extra-only": { type: "boolean", default: false },
    // Keep each control plane's folder (the logs of every component and controller) after its run.
    "keep-logs": { type: "boolean", default: false },
    // Only print the tables of what --results holds.
    "report-only": { type: "boolean", default: false },
  },
});

interface Setting {
  contender: Contender;
  concurrency: number | undefined;
  extraArgs: readonly string[];
}

const STEPS = [10, 20, 30, 40, 50];
const STEP_SECONDS = 10;
const log = (message: string) =>
  process.stderr.write(
    `[${(performance.now() / 1000).toFixed(0)}s load ${loadavg()[0]?.toFixed(1)}] ${message}\n`,
  );

function positiveInteger(flag: string, text: string, min = 1, max = 100_000): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`--${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  return value;
}

const list = (text: string) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
const appCounts = list(options.apps).map((n) => positiveInteger("apps", n, 1, 5_000));
const ids = list(options.controllers);
for (const id of ids)
  if (!["serin", "flagger", "argo-rollouts"].includes(id))
    throw new Error(`--controllers: "${id}" is none of serin, flagger, argo-rollouts`);
const raised = list(options["raised-concurrency"]).map((n) =>
  positiveInteger("raised-concurrency", n, 1, 256),
);
const trials = positiveInteger("trials", options.trials, 0, 1_000);
const warmup = positiveInteger("warmup", options.warmup, 0, 100);
const idleSeconds = positiveInteger("idle-seconds", options["idle-seconds"], 5, 3_600);
const stallSeconds = positiveInteger("stall-seconds", options["stall-seconds"], 60, 7_200);
const writers = positiveInteger("writers", options.writers, 1, 256);
const resultsFile = options.results;
const extras = (options.extra ?? []).map((text) => {
  const match = /^(serin|flagger|argo-rollouts):(\d+):(.*)$/.exec(text);
  if (!match) throw new Error(`--extra must be CONTROLLER:WORKERS:FLAGS, got "${text}"`);
  return {
    controller: match[1] as Contender["id"],
    concurrency: positiveInteger("extra", match[2] as string, 1, 256),
    extraArgs: (match[3] as string).split(/\s+/).filter(Boolean),
  };
});
const failures: string[] = [];

if (!options["report-only"]) {
  const needPeers = ids.some((id) => id !== "serin");
  const peers = needPeers ? await buildPeers() : undefined;
  const contenders: Contender[] = ids.map((id) => {
    if (id === "serin") return serin;
    if (!peers) throw new Error("the peers were not built");
    return id === "flagger" ? flagger(peers.flagger) : argoRollouts(peers.argoRollouts);
  });
  const gate = await startGate();
  // A run that breaks (a process that would not start, an apiserver that fell over) is reported and
  // skipped: the others still run, and the command exits non-zero at the end.
  const failed = (error: unknown) => {
    failures.push((error as Error).message);
    log(`FAILED: ${(error as Error).message}`);
    return undefined;
  };
  try {
    if (trials > 0) {
      for (const contender of contenders) {
        log(`${contender.title}: ${warmup} + ${trials} rollback trials`);
        const result = await runRollback(contender, {
          trials,
          warmup,
          stepSeconds: STEP_SECONDS,
          gate,
          log,
          keepDir: options["keep-logs"],
        }).catch(failed);
        if (result) await appendResult(resultsFile, result);
      }
    }
    // Each controller at its default worker count, the peers again at the raised counts, then any
    // --extra settings.
    const settings: Setting[] = [
      ...(options["extra-only"] ? [] : contenders).flatMap((contender) => [
        { contender, concurrency: undefined, extraArgs: [] },
        ...raised
          .filter((count) => contender.id !== "serin" && count !== contender.concurrency.default)
          .map((count) => ({ contender, concurrency: count, extraArgs: [] })),
      ]),
      ...extras.map((extra) => {
        const contender = contenders.find((candidate) => candidate.id === extra.controller);
        if (!contender) throw new Error(`--extra names ${extra.controller}, which --controllers leaves out`);
        return { contender, concurrency: extra.concurrency, extraArgs: extra.extraArgs };
      }),
    ];
    const keyOf = ({ contender, concurrency, extraArgs }: Setting) =>
      settingKey({
        controller: contender.id,
        concurrency: concurrency ?? contender.concurrency.default,
        extraArgs,
      });
    const stalledAt = new Map<string, number>();
    for (const earlier of await readResults(resultsFile))
      if (earlier.kind === "scale" && earlier.stalled)
        stalledAt.set(
          settingKey(earlier),
          Math.min(earlier.apps, stalledAt.get(settingKey(earlier)) ?? Infinity),
        );
    for (const n of appCounts) {
      for (const setting of settings) {
        const { contender, concurrency, extraArgs } = setting;
        const key = keyOf(setting);
        const stalled = stalledAt.get(key);
        if (stalled !== undefined && stalled < n) {
          log(`${key}: stalled at ${stalled} apps already; ${n} not run`);
          continue;
        }
        log(`${key}: ${n} apps`);
        const result = await runScale(contender, {
          apps: n,
          concurrency,
          extraArgs,
          steps: STEPS,
          stepSeconds: STEP_SECONDS,
          idleSeconds,
          stallSeconds,
          writers,
          gate,
          log,
          keepDir: options["keep-logs"],
        }).catch(failed);
        if (!result) continue;
        await appendResult(resultsFile, result);
        if (result.stalled) stalledAt.set(key, n);
        log(
          `${contender.title}: ${result.promoted}/${n} promoted, skew p99 ${result.skewMs.p99.toFixed(0)} ms, ` +
            `${result.requests.perStepPerApp.toFixed(1)} requests per step per app`,
        );
      }
    }
  } finally {
    await gate.close();
  }
}

const recorded = await readResults(resultsFile);
const scale = recorded.filter((result): result is ScaleResult => result.kind === "scale");
const rollback = recorded.filter((result): result is RollbackResult => result.kind === "rollback");
process.stdout.write(
  [
    `command: node dist/bench/peers.js ${process.argv.slice(2).join(" ")}`.trimEnd(),
    `results: ${resultsFile} (${recorded.length} runs)`,
    "",
    rollbackTable(rollback),
    scaleTables(scale),
  ].join("\n"),
);
if (failures.length > 0) {
  process.stderr.write(`${failures.length} runs failed:\n${failures.map((f) => `- ${f}`).join("\n")}\n`);
  process.exitCode = 1;
}
