import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatDuration, parseDuration } from "./duration.js";

test("Go-style durations parse to milliseconds", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1500000us"), 1_500);
  assert.equal(parseDuration("0"), 0);
});

test("text that is not a Go duration is refused", () => {
  for (const text of ["", "10", "s", "1 m", "-1s", "1d", "1m30", "1.2.3s", "5sec"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test("formatting a whole number of milliseconds round-trips through parsing", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 * 24 * 3_600_000 }), (ms) => {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }),
  );
});
