// From what the WATCHes recorded to the figures: pure functions, no clock and no cluster.
import type { Change } from "./observe.js";

export interface StepTimes {
  /** Arrival of the split at each step's weight, in step order; undefined where never seen. */
  arrivals: (number | undefined)[];
  /** Each step after the first: its arrival minus the previous step's arrival minus the step interval. */
  skews: number[];
  /** From the ship to the split at the first step. */
  firstStep: number | undefined;
}

/**
 * The step timing of one app's canary: `changes` are its split's canary weights (out of 10,000) as they
 * arrived, `weights` the planned steps in the same unit, `shippedAt` when its new version was sent.
 * Only changes from the ship on count (a second earlier, for clocks read in two places).
 */
export function stepTimes(
  changes: readonly Change<number>[],
  weights: readonly number[],
  shippedAt: number,
  stepMs: number,
): StepTimes {
  const after = changes.filter((change) => change.at >= shippedAt - 1_000);
  const arrivals: (number | undefined)[] = [];
  let from = 0;
  for (const weight of weights) {
    const index = after.findIndex((change, i) => i >= from && change.value === weight);
    arrivals.push(index >= 0 ? after[index]?.at : undefined);
    if (index >= 0) from = index + 1;
  }
  const skews: number[] = [];
  for (let step = 1; step < arrivals.length; step++) {
    const at = arrivals[step];
    const previous = arrivals[step - 1];
    if (at !== undefined && previous !== undefined) skews.push(at - previous - stepMs);
  }
  const first = arrivals[0];
  return { arrivals, skews, firstStep: first === undefined ? undefined : first - shippedAt };
}

/** The first time the state became `wanted` at or after `since`. */
export function firstAt<T>(changes: readonly Change<T>[] | undefined, wanted: T, since: number) {
  return changes?.find((change) => change.value === wanted && change.at >= since)?.at;
}

/**
 * Requests per step per app in a window, less what the same controller asks while idle over the same
 * time (its resyncs and polls go on during the canaries too).
 */
export function perStepPerApp(
  requests: number,
  idlePerSecond: number,
  windowSeconds: number,
  apps: number,
  steps: number,
): number {
  return (requests - idlePerSecond * windowSeconds) / (apps * steps);
}
