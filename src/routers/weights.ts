import { WEIGHT_SCALE } from "../contract/keys.js";
import type { Weights } from "./router.js";

/** All traffic on the stable version: where every new route object starts and every abort ends. */
export const STABLE_ONLY: Readonly<Weights> = Object.freeze({ stable: WEIGHT_SCALE, canary: 0 });

/** The split for a canary share in parts of WEIGHT_SCALE (see `percentToWeight` in contract/steps.ts). */
export function canaryWeights(canary: number): Weights {
  const weights = { stable: WEIGHT_SCALE - canary, canary };
  assertWeights(weights);
  return weights;
}

export function isWeights(weights: Weights): boolean {
  const { stable, canary } = weights;
  return (
    Number.isInteger(stable) &&
    Number.isInteger(canary) &&
    stable >= 0 &&
    canary >= 0 &&
    stable + canary === WEIGHT_SCALE
  );
}

/** Weights come from plan/ as exact integers; anything else is a bug upstream, not something to round. */
export function assertWeights(weights: Weights): void {
  if (!isWeights(weights)) {
    throw new RangeError(
      `weights must be non-negative integers summing to ${WEIGHT_SCALE}, ` +
        `got stable ${weights.stable} and canary ${weights.canary}`,
    );
  }
}

/**
 * Two backend weights as some other writer left them (1 and 3, 0.5 and 0.5, 9990 and 10) as shares of
 * WEIGHT_SCALE. Exact when they already are shares of WEIGHT_SCALE; otherwise the canary's share is
 * rounded half up and the stable gets the rest, so the two always add up. Both 0 reads as stable 100%.
 */
export function toWeights(stableRaw: number, canaryRaw: number): Weights {
  for (const [backend, raw] of [
    ["stable", stableRaw],
    ["canary", canaryRaw],
  ] as const) {
    if (!Number.isFinite(raw) || raw < 0) {
      throw new RangeError(`the ${backend} backend's weight must be a non-negative number, got ${raw}`);
    }
  }
  const total = stableRaw + canaryRaw;
  if (total === 0) return { ...STABLE_ONLY };
  if (Number.isInteger(stableRaw) && Number.isInteger(canaryRaw) && total === WEIGHT_SCALE) {
    return { stable: stableRaw, canary: canaryRaw };
  }
  const canary = roundHalfUp((canaryRaw * WEIGHT_SCALE) / total);
  return { stable: WEIGHT_SCALE - canary, canary };
}

/** Math.round, but a value that is a half up to floating-point noise (2.4999999999) still goes up. */
function roundHalfUp(value: number): number {
  const nearestHalf = Math.round(value * 2) / 2;
  const snapped = Math.abs(value - nearestHalf) < 1e-9 * Math.max(1, value) ? nearestHalf : value;
  return Math.floor(snapped + 0.5);
}
