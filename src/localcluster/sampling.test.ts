import assert from "node:assert/strict";
import { test } from "node:test";
import { evenDraws, noisyDraws, normalQuantile, poisson, seededUniform } from "./sampling.js";

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const variance = (values: number[]) => {
  const m = mean(values);
  return values.reduce((sum, value) => sum + (value - m) ** 2, 0) / (values.length - 1);
};

test("the same seed gives the same traffic, another seed other traffic", () => {
  const first = seededUniform(42);
  const again = seededUniform(42);
  const other = seededUniform(43);
  const a = Array.from({ length: 5 }, first);
  assert.deepEqual(Array.from({ length: 5 }, again), a);
  assert.notDeepEqual(Array.from({ length: 5 }, other), a);
  assert.ok(a.every((u) => u >= 0 && u < 1));
});

test("Poisson arrivals: mean and variance equal the expected count, small and large", () => {
  const uniform = seededUniform(7);
  for (const expected of [0.1, 2, 45, 1_000]) {
    const counts = Array.from({ length: 4_000 }, () => poisson(expected, uniform));
    assert.ok(counts.every((count) => Number.isInteger(count) && count >= 0));
    // Within four standard errors, of the mean and of the variance (a Poisson's fourth central moment is
    // mean + 3 mean^2).
    const n = counts.length;
    assert.ok(Math.abs(mean(counts) - expected) < 4 * Math.sqrt(expected / n), `mean ${mean(counts)}`);
    const varianceError = Math.sqrt((expected + 2 * expected ** 2) / n);
    assert.ok(
      Math.abs(variance(counts) - expected) < 4 * varianceError,
      `variance ${variance(counts)} at ${expected}`,
    );
  }
  assert.equal(poisson(0, uniform), 0);
  assert.throws(() => poisson(-1, uniform), /Poisson mean must be >= 0, got -1/);
  assert.throws(() => poisson(Number.POSITIVE_INFINITY, uniform), RangeError);
});

test("even draws: counts carry their fractions, so a total is the expectation rounded down", () => {
  const draws = evenDraws();
  // 0.1 requests a second, asked for every second: one request every ten seconds, on the tenth.
  const counts = Array.from({ length: 30 }, () => draws.count(0.1));
  assert.deepEqual(
    counts.flatMap((count, second) => (count > 0 ? [second] : [])),
    [9, 19, 29],
  );
  assert.equal(
    Array.from({ length: 1_000 }, () => draws.count(0.37)).reduce((a, b) => a + b, 0),
    370,
  );
  assert.throws(() => draws.count(Number.NaN), /expected count must be >= 0/);
});

test("even draws spread evenly: any share of them falls below a ratio in proportion to it", () => {
  const draws = evenDraws();
  const uniforms = Array.from({ length: 10_000 }, () => draws.uniform());
  for (const ratio of [0.001, 0.02, 0.2, 0.99]) {
    const below = uniforms.filter((u) => u < ratio).length;
    assert.ok(Math.abs(below - ratio * 10_000) <= 2, `${below} below ${ratio}`);
  }
});

test("noisy draws are repeatable from their seed", () => {
  const a = noisyDraws(5);
  const b = noisyDraws(5);
  assert.deepEqual([a.count(12), a.uniform(), a.count(0.5)], [b.count(12), b.uniform(), b.count(0.5)]);
});

test("the normal quantile matches known values to 1e-6 and is symmetric", () => {
  assert.equal(normalQuantile(0.5), 0);
  assert.ok(Math.abs(normalQuantile(0.99) - 2.3263478740408408) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.001) + 3.090232306167813) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.3) + normalQuantile(0.7)) < 1e-9);
  assert.equal(normalQuantile(0), Number.NEGATIVE_INFINITY);
  assert.throws(() => normalQuantile(1.5), /probability must be within \[0, 1\], got 1.5/);
});
