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
