/**
 * Where the modelled traffic gets its numbers: how many requests arrive in an interval, and uniform
 * draws for each request's outcome, latency and arrival time. Two sources with one interface: seeded
 * noise (Poisson arrivals, independent draws), and an even, repeatable stream for tests that want exact
 * figures. Pure: no clock, no global random state.
 */
export interface Draws {
  /** How many requests arrive in an interval that expects `expected` of them (>= 0). */
  count(expected: number): number;
  /** A number in [0, 1). */
  uniform(): number;
}

/** A small, fast, seedable generator (mulberry32): the same seed gives the same traffic. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Largest mean drawn in one go; a larger one is a sum of such draws (a sum of Poissons is Poisson). */
const POISSON_CHUNK = 30;

/** A Poisson-distributed count (Knuth's product of uniforms, in chunks so exp(-mean) never underflows). */
export function poisson(mean: number, uniform: () => number): number {
  if (!(mean >= 0) || !Number.isFinite(mean))
    throw new RangeError(`a Poisson mean must be >= 0, got ${mean}`);
  let total = 0;
  for (let left = mean; left > 0; left -= POISSON_CHUNK) {
    const limit = Math.exp(-Math.min(left, POISSON_CHUNK));
    let product = uniform();
    while (product > limit) {
      total += 1;
      product *= uniform();
    }
  }
  return total;
}

/** Real traffic's noise: Poisson arrivals and independent uniforms, repeatable from the seed. */
export function noisyDraws(seed: number): Draws {
  const uniform = seededUniform(seed);
  return { count: (expected) => poisson(expected, uniform), uniform };
}

/**
 * No noise: the count is the expected number carried over from interval to interval (so the total is
 * always the expectation rounded down), and the uniforms are an evenly spread sequence (each new one
 * lands in the largest gap the earlier ones left), so any share of them falls below a ratio in
 * proportion to it.
 */
export function evenDraws(offset = 0): Draws {
  let carried = 0;
  let index = 0;
  return {
    count(expected) {
      if (!(expected >= 0) || !Number.isFinite(expected))
        throw new RangeError(`an expected count must be >= 0, got ${expected}`);
      carried += expected;
      const whole = Math.floor(carried + 1e-9);
      carried -= whole;
      return whole;
    },
    uniform() {
      index += 1;
      return (offset + index * GOLDEN_FRACTION) % 1;
    },
  };
}

const GOLDEN_FRACTION = (Math.sqrt(5) - 1) / 2;

/**
 * The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9): turns a
 * uniform draw into a normal one, so both sources of draws shape latencies the same way.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    throw new RangeError(`a probability must be within [0, 1], got ${p}`);
  }
  if (p < ACKLAM_LOW) return acklamTail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - ACKLAM_LOW) return -acklamTail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  const [a0, a1, a2, a3, a4, a5] = ACKLAM_A;
  const [b0, b1, b2, b3, b4] = ACKLAM_B;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

const ACKLAM_LOW = 0.02425;
const ACKLAM_A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
] as const;
const ACKLAM_B = [
  -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
] as const;
const ACKLAM_C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
] as const;
const ACKLAM_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

/** The lower tail of Acklam's approximation, at q = sqrt(-2 ln p). */
function acklamTail(q: number): number {
  const [c0, c1, c2, c3, c4, c5] = ACKLAM_C;
  const [d0, d1, d2, d3] = ACKLAM_D;
  return (
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  );
}
