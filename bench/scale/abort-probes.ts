// Abort trials on a few dedicated probe canaries while the fleet runs: one abort at a time, round the
// probes, each probe re-armed (`retry`, back to its first step) in the background while the next one is
// aborted. Each trial measures the floors first (a plain PATCH, a TrafficSplit PATCH to its WATCH event),
// then the abort, and notes how many of the fleet's canaries were in flight when it was sent.
import { setTimeout as sleep } from "node:timers/promises";
import { readTrafficSplitWeights } from "../../src/routers/smi.js";
import { describeApiError } from "../../src/watch/kube.js";
import {
  type AbortTiming,
  rearm,
  type Target,
  type TrialClients,
  timeAbort,
  timePatchFloor,
  timeWatchFloor,
} from "../lib/abort-trial.js";

export interface ProbeTrial {
  probe: string;
  abort: AbortTiming;
  patchFloor: number;
  watchFloor: number;
  /** The fleet's canaries in flight when the abort was sent. */
  inFlight: number;
}

export interface AbortTrials {
  trials: ProbeTrial[];
  /** Retry -> back at the first step, ms, per re-arm that finished. */
  rearms: number[];
  /** Re-arms after which the Deployment said Progressing with a serin.dev/weight other than the split's. */
  weightLabelMismatches: string[];
  failures: string[];
}

export interface AbortTrialOptions {
  /** Label of the trials' marks on the floor objects ("idle", "inflight"). */
  label: string;
  trials: number;
  warmup: number;
  /** The probes' first step as a canary weight out of 10,000 (10% = 1000). */
  firstWeight: number;
  timeoutMs: number;
  /** How long a probe may take to come back to its first step (a new canary Deployment to become ready). */
  rearmTimeoutMs: number;
  /** Quiet time between two trials. */
  pauseMs: number;
  inFlight: () => number;
  /** Stop early (the fleet has finished): the trials so far are returned. */
  stop: () => boolean;
}

const keyOf = (target: Target) => `${target.namespace}/${target.name}`;

function atFirstStep(clients: TrialClients, probe: Target, firstWeight: number): boolean {
  const split = clients.splits.lastSeen(probe.namespace, probe.name);
  const phase = clients.deployments.lastSeen(probe.namespace, probe.name)?.metadata?.labels?.[
    "serin.dev/phase"
  ];
  return (
    split !== undefined && readTrafficSplitWeights(split).canary === firstWeight && phase === "Progressing"
  );
}

export async function runAbortTrials(
  clients: TrialClients,
  probes: readonly Target[],
  floor: { deployment: Target; split: Target },
  options: AbortTrialOptions,
): Promise<AbortTrials> {
  const result: AbortTrials = { trials: [], rearms: [], weightLabelMismatches: [], failures: [] };
  // Probe -> its re-arm in progress; a probe whose re-arm failed leaves the rotation.
  const armed = new Map<string, Promise<boolean>>(
    probes.map((probe) => [keyOf(probe), Promise.resolve(true)]),
  );
  let turn = 0;
  for (let trial = -options.warmup; trial < options.trials && !options.stop(); trial++) {
    const live = probes.filter((probe) => armed.has(keyOf(probe)));
    if (live.length === 0) {
      result.failures.push("every probe failed to re-arm");
      break;
    }
    const probe = live[turn++ % live.length] as Target;
    const key = keyOf(probe);
    if (!(await armed.get(key))) {
      armed.delete(key);
      trial -= 1;
      continue;
    }
    // Seconds after it came back: what the Deployment's labels say against the split.
    const weightLabel = clients.deployments.lastSeen(probe.namespace, probe.name)?.metadata?.labels?.[
      "serin.dev/weight"
    ];
    if (weightLabel !== String(options.firstWeight / 100))
      result.weightLabelMismatches.push(
        `${key}: weight label ${weightLabel}, split at ${options.firstWeight / 100}%`,
      );
    const mark = `${options.label}-${trial}`;
    try {
      const patchFloor = await timePatchFloor(clients, floor.deployment, mark);
      const watchFloor = await timeWatchFloor(clients, floor.split, mark);
      const inFlight = options.inFlight();
      const abort = await timeAbort(clients, probe, options.timeoutMs);
      if (trial >= 0) result.trials.push({ probe: key, abort, patchFloor, watchFloor, inFlight });
    } catch (error) {
      result.failures.push(`${mark} on ${key}: ${describeApiError(error)}`);
    }
    armed.set(
      key,
      rearm(clients, probe, options.firstWeight, options.rearmTimeoutMs).then(
        (ms) => {
          result.rearms.push(ms);
          return true;
        },
        (error: unknown) => {
          result.failures.push(`re-arm ${key}: ${describeApiError(error)}`);
          // Back at its first step all the same (only a label is not what the waiter wanted): still a probe.
          return atFirstStep(clients, probe, options.firstWeight);
        },
      ),
    );
    await sleep(options.pauseMs);
  }
  // Every probe back at its first step (or given up) before the caller moves on.
  await Promise.all(armed.values());
  return result;
}
