// One line of JSON per measured run, appended to a results file, so that a comparison measured in several
// sittings (small N now, the large N when the machine is quiet) is reported as one.
import { appendFile, readFile } from "node:fs/promises";
import type { Summary } from "../lib/stats.js";
import type { ContenderId } from "./contender.js";

interface RunIdentity {
  controller: ContenderId;
  title: string;
  version: string;
  /** Worker count used, and whether it is the controller's own default. */
  concurrency: number;
  concurrencyFlag: string;
  defaultConcurrency: boolean;
  /** Flags beyond the worker count that this setting adds. */
  extraArgs?: string[];
  settings: string;
  date: string;
  /** Load averages (1, 5, 15 min) when the run started and ended. */
  loadavg: { start: number[]; end: number[] };
}

export interface ScaleResult extends RunIdentity {
  kind: "scale";
  apps: number;
  /** Apps that reached their starting state (all of them, unless the run stalled in set-up). */
  readyBeforeShip: number;
  /** Where a stalled run stalled: bringing the N apps up, or promoting them. */
  stalledIn?: "setup" | "canaries";
  promoted: number;
  failed: number;
  /** Not all apps promoted within `stallSeconds` of the ship. */
  stalled: boolean;
  stallSeconds: number;
  skewMs: Summary;
  firstStepMs: Summary;
  lifetimeMs: Summary;
  /** From the first ship write to the last app promoted; null when some never were. */
  allPromotedSeconds: number | null;
  /** Apps whose split was seen at every step. */
  completeSequences: number;
  requests: {
    windowSeconds: number;
    inFlight: number;
    idlePerSecond: number;
    perStepPerApp: number;
    rawPerStepPerApp: number;
    idlePerAppPerMinute: number;
    rejected: number;
    /** Every client but the benchmark (controller, controller manager, scheduler, kwok), net of idle. */
    clusterPerStepPerApp: number;
  };
  cpu: { inFlightSeconds: number; idleCoreShare: number; inFlightCoreShare: number };
  rssMiB: { idle: number; peak: number };
  gateCallsPerApp: number;
  watchRestarts: number;
}

export interface RollbackResult extends RunIdentity {
  kind: "rollback";
  trigger: string;
  latencyMs: Summary;
  /** Re-arms after which the canary did not come back to its first weight, so another was needed. */
  rearmRetries?: number;
}

export type Result = ScaleResult | RollbackResult;

/** Names one controller setting: controller, worker count and any further flags. */
export function settingKey(result: {
  controller: ContenderId;
  concurrency: number;
  extraArgs?: readonly string[];
}): string {
  return [result.controller, String(result.concurrency), ...(result.extraArgs ?? [])].join(" ");
}

export async function appendResult(file: string, result: Result): Promise<void> {
  await appendFile(file, `${JSON.stringify(result)}\n`);
}

export async function readResults(file: string): Promise<Result[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line, index) => {
      try {
        return JSON.parse(line) as Result;
      } catch (error) {
        throw new Error(`${file} line ${index + 1} is not JSON: ${(error as Error).message}`);
      }
    });
}
