import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseQuantity, quantityValue } from "./quantity.js";

test("quantities others write into TrafficSplit weights parse to their value", () => {
  const cases: Record<string, number> = {
    "500m": 0.5,
    "1": 1,
    "1k": 1000,
    "0.5": 0.5,
    "2Ki": 2048,
    "1Mi": 1_048_576,
    "1.5M": 1_500_000,
    "250u": 0.00025,
    "100n": 1e-7,
    "1e3": 1000,
    "1E3": 1000,
    "5e-1": 0.5,
    "1E": 1e18,
    "+5": 5,
    ".5": 0.5,
    "5.": 5,
    "0": 0,
    "900": 900,
    "-1": -1,
  };
  for (const [text, value] of Object.entries(cases)) assert.equal(parseQuantity(text), value, text);
});

test("garbage is an error that quotes it and shows what a quantity looks like", () => {
  for (const text of [
    "",
    "abc",
    "1 k",
    " 1",
    "1KI",
    "1ki",
    "k",
    "1e",
    "1.2.3",
    "0x10",
    "1Kib",
    "--1",
    "50%",
  ]) {
    assert.throws(
      () => parseQuantity(text),
      (error: Error) =>
        error instanceof SyntaxError &&
        error.message.includes(JSON.stringify(text)) &&
        error.message.includes('"500m"'),
      text,
    );
  }
  assert.throws(() => parseQuantity("1e400"), /too large/);
});

test("an int-or-string weight is a number as it is or a quantity string", () => {
  assert.equal(quantityValue(9990), 9990);
  assert.equal(quantityValue("500m"), 0.5);
  assert.throws(() => quantityValue(null), /neither a number nor a quantity string/);
  assert.throws(() => quantityValue(Number.NaN), TypeError);
  assert.throws(() => quantityValue({ weight: 1 }), TypeError);
});

test("milli, plain and kilo quantities of any integer are exact", () => {
  fc.assert(
    fc.property(fc.nat(10_000_000), (n) => {
      assert.equal(parseQuantity(`${n}m`), n / 1000);
      assert.equal(parseQuantity(String(n)), n);
      assert.equal(parseQuantity(`${n}k`), n * 1000);
      assert.equal(parseQuantity(`${n}Ki`), n * 1024);
    }),
  );
});
