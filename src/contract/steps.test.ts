import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { describeSteps, parseSteps, percentToWeight } from "./steps.js";

test("fractional percentages become exact parts of 10000", () => {
  assert.equal(percentToWeight("0.1"), 10);
  assert.equal(percentToWeight("0.01"), 1);
  assert.equal(percentToWeight("33.33"), 3333);
  assert.equal(percentToWeight("100"), 10_000);
  assert.equal(percentToWeight("0"), undefined);
  assert.equal(percentToWeight("100.01"), undefined);
});

test("a schedule with pauses parses in order", () => {
  const parsed = parseSteps("0.1, 1,pause,50");
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, [
    { kind: "weight", weight: 10, text: "0.1" },
    { kind: "weight", weight: 100, text: "1" },
    { kind: "pause" },
    { kind: "weight", weight: 5_000, text: "50" },
  ]);
  assert.equal(describeSteps(parsed.value), "0.1%, 1%, pause, 50%");
});

test("each kind of bad schedule says what is wrong with which step", () => {
  const problems: Record<string, RegExp> = {
    "": /lists no step/,
    "10,,20": /empty step/,
    "10,later": /"later", which is neither a number nor "pause"/,
    "1,0.125": /"0\.125", which has more than 2 decimals/,
    "0.125": /^has more than 2 decimals$/,
    "0,10": /"0", which is not a percentage in \(0, 100\]/,
    "150": /^is not a percentage in \(0, 100\]$/,
    "-5": /^is neither a number nor "pause"$/,
    [`1,${"9".repeat(500)}`]: /^has "9{60}… \(500 characters\)", which is not a percentage/,
    "10,10": /not strictly increasing: 10 follows 10/,
    "50,pause,25": /not strictly increasing: 25 follows 50/,
    pause: /no weight, only pauses/,
  };
  for (const [text, problem] of Object.entries(problems)) {
    const parsed = parseSteps(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.match(parsed.problem, problem, text);
  }
});

const weightText = fc
  .integer({ min: 1, max: 10_000 })
  .map((weight) => (weight % 100 === 0 ? String(weight / 100) : (weight / 100).toFixed(2)));

test("any strictly increasing list of 2-decimal percentages parses to the same weights", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 12 }),
      (weights) => {
        const sorted = [...weights].sort((a, b) => a - b);
        const text = sorted.map((weight) => (weight / 100).toFixed(2)).join(",");
        const parsed = parseSteps(text);
        assert.ok(parsed.ok, text);
        assert.deepEqual(
          parsed.value.map((step) => (step.kind === "weight" ? step.weight : -1)),
          sorted,
        );
      },
    ),
  );
});

test("a list that is not strictly increasing is always refused", () => {
  fc.assert(
    fc.property(fc.array(weightText, { minLength: 2, maxLength: 8 }), (texts) => {
      const weights = texts.map((text) => percentToWeight(text) as number);
      const increasing = weights.every(
        (weight, index) => index === 0 || weight > (weights[index - 1] as number),
      );
      assert.equal(parseSteps(texts.join(",")).ok, increasing);
    }),
  );
});

test("arbitrary text never throws: it parses or names a problem", () => {
  fc.assert(
    fc.property(fc.string(), (text) => {
      const parsed = parseSteps(text);
      if (!parsed.ok) assert.ok(parsed.problem.length > 0);
    }),
  );
});
