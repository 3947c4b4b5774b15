import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WEIGHT_SCALE } from "../contract/keys.js";
import { percentToWeight } from "../contract/steps.js";
import { assertWeights, canaryWeights, isWeights, STABLE_ONLY, toWeights } from "./weights.js";

test("a 0.1% step is canary 10 and stable 9990, never a float", () => {
  const canary = percentToWeight("0.1");
  assert.equal(canary, 10);
  assert.deepEqual(canaryWeights(canary ?? Number.NaN), { stable: 9990, canary: 10 });
  assert.deepEqual(canaryWeights(0), STABLE_ONLY);
  assert.deepEqual(canaryWeights(WEIGHT_SCALE), { stable: 0, canary: WEIGHT_SCALE });
});

test("weights that are not exact shares of 10000 are refused, not rounded", () => {
  assert.throws(() => canaryWeights(10_001), RangeError);
  assert.throws(() => canaryWeights(0.5), RangeError);
  assert.throws(() => assertWeights({ stable: 5000, canary: 4000 }), /summing to 10000.*5000.*4000/);
  assert.throws(() => assertWeights({ stable: 10_010, canary: -10 }), RangeError);
  assert.equal(isWeights({ stable: 9990, canary: 10 }), true);
});

test("weights already out of 10000 are taken exactly", () => {
  assert.deepEqual(toWeights(9990, 10), { stable: 9990, canary: 10 });
  assert.deepEqual(toWeights(0, 10_000), { stable: 0, canary: 10_000 });
  assert.deepEqual(toWeights(10_000, 0), { stable: 10_000, canary: 0 });
});

test("weights of another scale become proportional shares of 10000", () => {
  assert.deepEqual(toWeights(1, 3), { stable: 2500, canary: 7500 });
  assert.deepEqual(toWeights(0.5, 0.5), { stable: 5000, canary: 5000 });
  assert.deepEqual(toWeights(100, 0), { stable: 10_000, canary: 0 });
  assert.deepEqual(toWeights(0, 1), { stable: 0, canary: 10_000 });
  assert.deepEqual(toWeights(999, 1), { stable: 9990, canary: 10 });
  assert.deepEqual(toWeights(2, 1), { stable: 6667, canary: 3333 });
});

test("the canary's share is rounded half up and the stable gets the rest", () => {
  // 1 of 20000 is 0.5 parts of 10000.
  assert.deepEqual(toWeights(19_999, 1), { stable: 9999, canary: 1 });
  // 3 of 20000 is 1.5 parts, 0.3 of 2 is 1500 exactly, 0.7 and 0.3 carry floating-point noise.
  assert.deepEqual(toWeights(19_997, 3), { stable: 9998, canary: 2 });
  assert.deepEqual(toWeights(0.7, 0.3), { stable: 7000, canary: 3000 });
  assert.deepEqual(toWeights(1, 2), { stable: 3333, canary: 6667 });
});

test("no traffic anywhere reads as stable 100%", () => {
  assert.deepEqual(toWeights(0, 0), STABLE_ONLY);
});

test("a negative or non-finite weight is an error that says which backend", () => {
  assert.throws(() => toWeights(-1, 3), /stable backend's weight must be a non-negative number, got -1/);
  assert.throws(() => toWeights(1, Number.NaN), /canary backend's weight/);
  assert.throws(() => toWeights(Number.POSITIVE_INFINITY, 1), RangeError);
});

test("any two weights become exact shares within half a part of their proportion", () => {
  fc.assert(
    fc.property(fc.nat(1_000_000), fc.nat(1_000_000), (stableRaw, canaryRaw) => {
      const weights = toWeights(stableRaw, canaryRaw);
      assert.ok(isWeights(weights), JSON.stringify(weights));
      if (stableRaw + canaryRaw === 0) return;
      const exact = (canaryRaw * WEIGHT_SCALE) / (stableRaw + canaryRaw);
      assert.ok(weights.canary - exact <= 0.5 + 1e-9 && exact - weights.canary < 0.5, `${exact}`);
    }),
  );
});

test("exact weights come back unchanged", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: WEIGHT_SCALE }), (canary) => {
      assert.deepEqual(toWeights(WEIGHT_SCALE - canary, canary), canaryWeights(canary));
    }),
  );
});
