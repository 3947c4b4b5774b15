import assert from "node:assert/strict";
import { test } from "node:test";
import { evenDraws, noisyDraws } from "./sampling.js";
import { modelledPod, type RoutedApp, splitRate, TrafficModel } from "./traffic-model.js";

const healthy = { successRatio: 1, latency: { medianMs: 20, p99Ms: 20 } };
const failing = { successRatio: 0, latency: { medianMs: 20, p99Ms: 20 } };
const app = (requestsPerSecond = 100, canary = failing): RoutedApp => ({
  namespace: "shop",
  service: "web",
  requestsPerSecond,
  stable: { deployment: "web", backend: "web-stable", behaviour: healthy },
  canary: { deployment: "web-canary", backend: "web-canary", behaviour: canary },
});

/** The value of `response_total` for a Deployment and classification in an exposition (0 if absent). */
function responses(text: string, deployment: string, classification: string): number {
  const line = text
    .split("\n")
    .find(
      (entry) =>
        entry.startsWith("response_total{") &&
        entry.includes(`deployment="${deployment}"`) &&
        entry.includes(`classification="${classification}"`),
    );
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

test("a rate is divided by the weights out of 10000, 0.1% included", () => {
  assert.deepEqual(splitRate(100, { stable: 9990, canary: 10 }), { stable: 99.9, canary: 0.1 });
  assert.deepEqual(splitRate(1_000, { stable: 9900, canary: 100 }), { stable: 990, canary: 10 });
  assert.deepEqual(splitRate(100, { stable: 10_000, canary: 0 }), { stable: 100, canary: 0 });
  assert.deepEqual(splitRate(100, { stable: 0, canary: 10_000 }), { stable: 0, canary: 100 });
  // Another writer's scale (1 and 3) is a share all the same; no weight at all keeps traffic on stable.
  assert.deepEqual(splitRate(100, { stable: 1, canary: 3 }), { stable: 25, canary: 75 });
  assert.deepEqual(splitRate(100, { stable: 0, canary: 0 }), { stable: 100, canary: 0 });
  assert.throws(
    () => splitRate(-1, { stable: 1, canary: 0 }),
    /requestsPerSecond must be a finite number >= 0/,
  );
  assert.throws(() => splitRate(1, { stable: -1, canary: 2 }), /weights must not be negative/);
});

test("traffic follows the split: a weight change moves requests from that moment on", () => {
  const model = new TrafficModel(() => evenDraws());
  model.addApp(app(100), 0);
  let text = model.exposition(10_000);
  assert.equal(responses(text, "web", "success"), 1_000);
  assert.equal(responses(text, "web-canary", "failure"), 0, "no weight, no canary series");
  model.setWeights("shop", "web", { stable: 9900, canary: 100 }, 10_000);
  text = model.exposition(20_000);
  // 1% of 100 requests a second for 10 s: 10 requests, all failed.
  assert.equal(responses(text, "web-canary", "failure"), 10);
  assert.equal(responses(text, "web", "success"), 1_000 + 990);
  model.setWeights("shop", "web", undefined, 20_000);
  text = model.exposition(60_000);
  assert.equal(responses(text, "web-canary", "failure"), 10, "the split gone: all traffic back on stable");
  assert.equal(responses(text, "web", "success"), 1_990 + 4_000);
});

test("at 0.1% of 100 requests a second, the canary sees one request every ten seconds", () => {
  const model = new TrafficModel(() => evenDraws());
  model.addApp(app(100), 0);
  model.setWeights("shop", "web", { stable: 9990, canary: 10 }, 0);
  assert.equal(responses(model.exposition(9_000), "web-canary", "failure"), 0);
  assert.equal(responses(model.exposition(10_000), "web-canary", "failure"), 1);
  assert.equal(responses(model.exposition(35_000), "web-canary", "failure"), 3);
});

test("the history says when the canary got weight, what each version served, and its first failure", () => {
  const model = new TrafficModel(() => evenDraws());
  model.addApp(app(100), 1_000);
  model.setWeights("shop", "web", { stable: 9900, canary: 100 }, 5_000);
  model.setWeights("shop", "web", { stable: 9900, canary: 100 }, 6_000);
  model.setWeights("shop", "web", { stable: 10_000, canary: 0 }, 45_000);
  const history = model.history("shop", "web", 50_000);
  assert.ok(history);
  assert.deepEqual(
    history.changes.map((change) => [change.at, change.weights.canary]),
    [
      [1_000, 0],
      [5_000, 100],
      [45_000, 0],
    ],
    "an unchanged weight is no change",
  );
  const [, start, rollback] = history.changes;
  assert.deepEqual(start?.canary, { requests: 0, failures: 0, slow: 0 });
  assert.equal(rollback?.canary.requests, 40);
  assert.equal(rollback?.canary.failures, 40);
  assert.equal((rollback?.stable.requests ?? 0) - (start?.stable.requests ?? 0), 3_960);
  assert.ok(
    (history.canary.firstFailureAt ?? 0) >= 5_000 && (history.canary.firstFailureAt ?? 0) < 6_000,
    `first failure at ${history.canary.firstFailureAt}`,
  );
  assert.equal(history.canary.firstFailureAt, history.canary.firstRequestAt);
  assert.equal(history.stable.failures, 0);
  assert.equal(model.history("shop", "nope", 0), undefined);
});

test("noise: over many seconds the canary's share and failure ratio stay near what the scenario says", () => {
  let seed = 0;
  const model = new TrafficModel(() => {
    seed += 1;
    return noisyDraws(seed);
  });
  model.addApp(app(200, { successRatio: 0.98, latency: { medianMs: 20, p99Ms: 120 } }), 0);
  model.setWeights("shop", "web", { stable: 9000, canary: 1_000 }, 0);
  const history = model.history("shop", "web", 600_000);
  assert.ok(history);
  // 10% of 200/s for 600 s: 12,000 requests expected, Poisson spread ~110.
  assert.ok(Math.abs(history.canary.requests - 12_000) < 500, `${history.canary.requests} canary requests`);
  const ratio = history.canary.failures / history.canary.requests;
  assert.ok(Math.abs(ratio - 0.02) < 0.004, `failure ratio ${ratio}`);
  assert.ok(
    Math.abs(history.stable.requests - 108_000) < 1_500,
    `${history.stable.requests} stable requests`,
  );
});

test("a behaviour can change mid-run; a removed app's series are gone", () => {
  const model = new TrafficModel(() => evenDraws());
  model.addApp(app(100, healthy), 0);
  model.setWeights("shop", "web", { stable: 5_000, canary: 5_000 }, 0);
  model.setBehaviour("shop", "web-canary", failing, 10_000);
  const text = model.exposition(20_000);
  assert.equal(responses(text, "web-canary", "success"), 500);
  assert.equal(responses(text, "web-canary", "failure"), 500);
  assert.throws(() => model.setBehaviour("shop", "other", failing, 0), /shop\/other is not modelled/);
  assert.throws(() => model.addApp(app(), 0), /shop\/web is modelled already/);
  model.removeApp("shop", "web");
  assert.doesNotMatch(model.exposition(30_000), /deployment="web/);
});

test("a Deployment at a fixed rate of its own needs no split", () => {
  const model = new TrafficModel(() => evenDraws());
  model.setDirect("quiet", "web-canary", 50, { successRatio: 0.8, latency: { medianMs: 20, p99Ms: 20 } }, 0);
  const text = model.exposition(10_000);
  assert.equal(responses(text, "web-canary", "success") + responses(text, "web-canary", "failure"), 500);
  assert.ok(Math.abs(responses(text, "web-canary", "failure") - 100) <= 2);
});

test("each modelled pod has a stable identity shaped like a real one", () => {
  const pod = modelledPod("shop", "web-canary");
  assert.deepEqual(modelledPod("shop", "web-canary"), pod);
  assert.match(pod.pod, /^web-canary-[bcdfghjklmnpqrstvwxz2456789]{10}-model$/);
  assert.match(pod.podIp, /^10\.244\.\d{1,3}\.\d{1,3}$/);
  assert.notEqual(modelledPod("shop", "web").pod, pod.pod);
});

test("each pod can be scraped on its own, as linkerd-viz scrapes every proxy", () => {
  const model = new TrafficModel(() => evenDraws());
  model.addApp(app(100), 0);
  assert.deepEqual(
    model.pods().map(({ namespace, deployment }) => `${namespace}/${deployment}`),
    ["shop/web", "shop/web-canary"],
  );
  const stable = model.podExposition("shop", "web", 10_000) ?? "";
  assert.equal(responses(stable, "web", "success"), 1_000);
  assert.doesNotMatch(stable, /web-canary/);
  assert.doesNotMatch(model.podExposition("shop", "web-canary", 10_000) ?? "", /_total\{/, "no request yet");
  assert.equal(model.podExposition("shop", "nope", 0), undefined);
});
