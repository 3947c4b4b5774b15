import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import type { PrometheusClient } from "../analysis/prometheus.js";
import { allowlistPolicy } from "../contract/test-urls.js";
import { GateJobs } from "./gate-jobs.js";

const ticket = { revision: "1a2b3c4d5e", stepStartedAt: "2030-01-01T12:00:00.000Z" };
const check = { name: "success-rate", op: ">=" as const, threshold: 99, text: "success-rate>=99" };
const scope = { namespace: "shop", deployment: "web-canary", service: "web", analysisIntervalMs: 15_000 };

test("a check is dated when it started, so a slow Prometheus does not push the next one back", async () => {
  let now = Date.parse("2030-01-01T12:00:15.000Z");
  let answer: (value: number) => void = () => undefined;
  const queries: string[] = [];
  const prometheus = {
    query: (promql: string) => {
      queries.push(promql);
      return new Promise<number>((resolve) => {
        answer = resolve;
      });
    },
  } as unknown as PrometheusClient;
  const finished: string[] = [];
  const jobs = new GateJobs(
    { prometheus, templates: new Map(), scrapeIntervalMs: 10_000, testUrlPolicy: allowlistPolicy([]) },
    (key) => finished.push(key),
    pino({ level: "silent" }),
    () => new Date(now),
  );
  jobs.startChecks("shop/web", [check], ticket, scope);
  assert.equal(jobs.observe("shop/web").running.checks, true);
  // The window is the interval plus one scrape interval.
  assert.match(queries[0] ?? "", /\[25s\]/);
  now += 8_000; // Prometheus takes 8 s to answer
  answer(100);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(finished, ["shop/web"]);
  assert.deepEqual(jobs.observe("shop/web").checks, {
    verdict: { result: "pass" },
    ticket,
    at: "2030-01-01T12:00:15.000Z",
  });
});

test("with every slot taken, canaries wait in line: a freed slot is kept for the first, not taken by a later poll", async () => {
  const answers: ((value: number) => void)[] = [];
  const prometheus = {
    query: () => new Promise<number>((resolve) => answers.push(resolve)),
  } as unknown as PrometheusClient;
  const called: string[] = [];
  let now = Date.parse("2030-01-01T12:00:15.000Z");
  const jobs = new GateJobs(
    { prometheus, templates: new Map(), scrapeIntervalMs: 10_000, testUrlPolicy: allowlistPolicy([]) },
    (key) => called.push(key),
    pino({ level: "silent" }),
    () => new Date(now),
    2,
  );
  const checks = (key: string) => jobs.startChecks(key, [check], ticket, scope);
  const running = (key: string) => jobs.observe(key).running.checks;
  checks("shop/a");
  checks("shop/b");
  checks("shop/c");
  checks("shop/d");
  assert.deepEqual([running("shop/c"), running("shop/d"), jobs.queued], [false, false, 2]);
  answers[0]?.(100);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(called, ["shop/a", "shop/c"], "a's outcome, then c is called for the slot a freed");
  checks("shop/d");
  assert.equal(running("shop/d"), false, "d polls first, but the slot is c's");
  checks("shop/c");
  assert.equal(running("shop/c"), true);
  // b finishes; d is next in line, and a slot kept for it that it never takes lapses after 30 s.
  answers[1]?.(100);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(called.at(-1), "shop/d");
  now += 31_000;
  checks("shop/e");
  assert.equal(running("shop/e"), true, "d's lapsed slot goes to the next that asks");
  jobs.forget("shop/d");
  assert.equal(jobs.queued, 0);
});
