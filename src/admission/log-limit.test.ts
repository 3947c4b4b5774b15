import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { pino } from "pino";
import { createLogLimiter } from "./log-limit.js";

function capturedLogger() {
  const lines: { msg: string; suppressed?: number }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { logger: pino({ level: "info" }, stream), lines };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a flood of log lines: at most N a second, then one line with the count left out", async () => {
  const { logger, lines } = capturedLogger();
  let now = 1_000_000;
  const limiter = createLogLimiter(logger, 10, () => now);
  for (let index = 0; index < 5_000; index++) {
    limiter.write(() => logger.info(`denied ${index}`));
    now += 0.1;
  }
  // 5,000 lines over half a second.
  await settle();
  assert.equal(lines.length, 10);
  now += 1_000;
  limiter.write(() => logger.info("the next second"));
  await settle();
  assert.deepEqual(
    lines.slice(10).map((line) => line.msg),
    ["4990 admission log lines left out: more than 10 a second", "the next second"],
  );
  assert.equal(lines[10]?.suppressed, 4_990);
});

test("the count left out is logged when the second ends, even if nothing follows", async () => {
  const { logger, lines } = capturedLogger();
  const limiter = createLogLimiter(logger, 1);
  limiter.write(() => logger.info("first"));
  limiter.write(() => logger.info("second"));
  limiter.write(() => logger.info("third"));
  const deadline = Date.now() + 3_000;
  while (lines.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    lines.map((line) => line.msg),
    ["first", "2 admission log lines left out: more than 1 a second"],
  );
});
