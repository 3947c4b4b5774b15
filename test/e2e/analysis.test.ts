import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { readTrafficSplitWeights } from "../../src/routers/smi.js";
import {
  type LinkerdMetrics,
  type Prometheus,
  startLinkerdMetrics,
  startPrometheus,
  withControlPlane,
} from "../harness/index.js";
import { Journey, startCanaryCluster } from "./journey.js";

/**
 * Steps judged on live metrics: a real Prometheus scrapes Linkerd-shaped proxy metrics every 500 ms,
 * and serin's checks query it. The traffic behind the metrics is modelled (no proxy runs): a fixed rate
 * per canary Deployment, or an app's rate divided by its TrafficSplit as the model reads it on a WATCH.
 * Test gates are a real HTTP server on this machine.
 */
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";
const healthy = { requestsPerSecond: 50, successRatio: 1, latencyMs: 20 };
let metrics: LinkerdMetrics;
let prometheus: Prometheus;

interface GateCall {
  path: string;
  body: Record<string, unknown>;
}
const gateCalls: GateCall[] = [];
let gateStatus = 200;
let gates: Server;
let gateBase = "";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const analysed = (extra: Record<string, string> = {}) => ({
  "serin.dev/steps": "10,50",
  "serin.dev/step-interval": "3s",
  "serin.dev/analysis-interval": "2s",
  "serin.dev/analysis": "success-rate>=99,latency-p99<=100ms",
  "serin.dev/failure-limit": "1",
  ...extra,
});

describe("analysis on Prometheus and test gates", () => {
  before(
    async () => {
      metrics = await startLinkerdMetrics({
        kubeConfig: env.cp.kubeConfig(),
        routes: [{ path: "/apis/split.smi-spec.io/v1alpha4/trafficsplits", read: readTrafficSplitWeights }],
      });
      prometheus = await startPrometheus([metrics.target]);
      gates = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          gateCalls.push({ path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString() || "{}") });
          res.writeHead(gateStatus).end();
        });
      });
      await new Promise<void>((resolve) => gates.listen(0, "127.0.0.1", resolve));
      gateBase = `http://127.0.0.1:${(gates.address() as AddressInfo).port}`;
      const errorTemplate =
        'error-rate=sum(rate(response_total{namespace="{{ namespace }}",deployment="{{ deployment }}",classification="failure"}[{{ interval }}]))';
      const shared = ["--test-host", "127.0.0.1", "--metric-template", errorTemplate];
      const cluster = await startCanaryCluster(
        env.cp,
        ["--prometheus-url", prometheus.url, "--scrape-interval", "500ms", ...shared],
        shared,
      );
      const watcher = await cluster.startWatcher();
      await watcher.waitForLog("watcher started");
    },
    { timeout: 90_000 },
  );
  after(async () => {
    await prometheus?.stop();
    await metrics?.stop();
    gates?.close();
  });

  test("a healthy canary passes its checks at every step and is promoted", async () => {
    const journey = new Journey(env.cp, "healthy", route);
    await journey.create({ annotations: analysed() });
    metrics.setTraffic("healthy", "web-canary", healthy);
    const recorder = journey.recordWeights();
    await journey.ship(V2, { annotations: analysed() });
    await journey.waitForPhase("Succeeded", 60_000);
    assert.deepEqual(await recorder.stop(), [0, 1_000, 5_000, 10_000, 0]);
    assert.equal(await journey.image(), V2);
  });

  test("a failing canary: AnalysisFailed, then abort past the failure limit, saying what was measured", async () => {
    const journey = new Journey(env.cp, "failing", route);
    await journey.create({ annotations: analysed() });
    metrics.setTraffic("failing", "web-canary", { ...healthy, successRatio: 0.5 });
    await journey.ship(V2, { annotations: analysed() });
    const aborted = await journey.waitForPhase("Aborted", 60_000);
    // Half of the requests fail; the rate and the counts are what Prometheus makes of whole requests
    // scraped every 500 ms, so close to 50% rather than exactly.
    const measured =
      /checks failed at 10%: success-rate ([\d.]+)%, wanted success-rate>=99 \((\d+) of (\d+) requests failed in 2.5s\)/.exec(
        aborted["serin.dev/message"] ?? "",
      );
    assert.ok(measured, aborted["serin.dev/message"]);
    assert.ok(Math.abs(Number(measured[1]) - 50) < 6, `success rate ${measured[1]}%`);
    assert.ok(Math.abs(Number(measured[2]) / Number(measured[3]) - 0.5) < 0.06, measured[0]);
    const reasons = (await journey.events()).map((event) => event.reason);
    assert.ok(reasons.includes("AnalysisFailed"), reasons.join(", "));
    assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    assert.equal(await journey.image(), "registry.example/web:1.0.0");
  });

  test("a canary that fails every request is rolled back, though its proxy exports no success series", async () => {
    const journey = new Journey(env.cp, "all-failing", route);
    await journey.create({ annotations: analysed() });
    metrics.setTraffic("all-failing", "web-canary", { ...healthy, successRatio: 0 });
    await journey.ship(V2, { annotations: analysed() });
    const aborted = await journey.waitForPhase("Aborted", 60_000);
    assert.match(
      aborted["serin.dev/message"] ?? "",
      /success-rate 0%, wanted success-rate>=99 \((\d+) of \1 requests failed/,
    );
  });

  test("a single failed request is too few to judge: the step holds, nothing is aborted", async () => {
    const journey = new Journey(env.cp, "sparse", route);
    await journey.create({ annotations: analysed() });
    // One request every 3.3 s, each failing: at most one in a 2.5 s window, a 0% success rate that a
    // version failing 1% of its requests shows one time in a hundred.
    metrics.setTraffic("sparse", "web-canary", { requestsPerSecond: 0.3, successRatio: 0, latencyMs: 20 });
    await journey.ship(V2, { annotations: analysed() });
    await journey.waitForCanaryWeight(1_000);
    await journey.waitFor(
      async () => /too few to tell from chance/.test((await journey.status())["serin.dev/message"] ?? ""),
      "a check judged inconclusive on too few requests",
      30_000,
    );
    await sleep(6_000);
    assert.equal((await journey.status())["serin.dev/phase"], "Progressing");
    assert.equal((await journey.weights())?.canary, 1_000, "held past the 3s step interval, not aborted");
  });

  test("an app's traffic follows its split: the canary gets its step's share from the moment it is written", async () => {
    const journey = new Journey(env.cp, "routed", route);
    await journey.create({ annotations: analysed() });
    metrics.addApp({
      namespace: "routed",
      service: "web",
      requestsPerSecond: 200,
      stable: {
        deployment: "web",
        backend: "web-stable",
        behaviour: { successRatio: 1, latency: { medianMs: 20, p99Ms: 20 } },
      },
      canary: {
        deployment: "web-canary",
        backend: "web-canary",
        behaviour: { successRatio: 0, latency: { medianMs: 20, p99Ms: 20 } },
      },
    });
    await journey.ship(V2, { annotations: analysed() });
    await journey.waitForPhase("Aborted", 60_000);
    assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    await journey.waitFor(
      async () => metrics.history("routed", "web")?.changes.at(-1)?.weights.canary === 0,
      "the model to see the rollback",
    );
    const history = metrics.history("routed", "web");
    assert.ok(history);
    assert.deepEqual(
      history.changes.map((change) => change.weights.canary),
      [0, 1_000, 0],
      "the weights the model routed by, as the WATCH delivered them",
    );
    const [, start, end] = history.changes;
    assert.ok(start && end);
    const canary = end.canary.requests - start.canary.requests;
    const stable = end.stable.requests - start.stable.requests;
    // 10% of the requests while the split held the canary at 10%; every one of them failed.
    assert.ok(Math.abs(canary / (canary + stable) - 0.1) < 0.01, `canary ${canary}, stable ${stable}`);
    assert.equal(end.canary.failures - start.canary.failures, canary);
    assert.ok((history.canary.firstFailureAt ?? 0) >= start.at, "no canary request before its weight");
    assert.equal(history.canary.requests, canary, "none after the rollback");
  });

  test("a slow canary fails latency-p99", async () => {
    const journey = new Journey(env.cp, "slow", route);
    await journey.create({ annotations: analysed() });
    metrics.setTraffic("slow", "web-canary", { ...healthy, latencyMs: 400 });
    await journey.ship(V2, { annotations: analysed() });
    const aborted = await journey.waitForPhase("Aborted", 60_000);
    assert.match(aborted["serin.dev/message"] ?? "", /latency-p99 \d+(\.\d)?ms, wanted latency-p99<=100ms/);
  });

  test("no requests yet is inconclusive: the step holds instead of failing, and goes on once traffic flows", async () => {
    const journey = new Journey(env.cp, "quiet", route);
    await journey.create({ annotations: analysed() });
    await journey.ship(V2, { annotations: analysed() });
    await journey.waitForCanaryWeight(1_000);
    await sleep(7_000);
    const holding = await journey.status();
    assert.equal(holding["serin.dev/phase"], "Progressing");
    assert.equal((await journey.weights())?.canary, 1_000, "held past the 3s step interval");
    assert.match(holding["serin.dev/message"] ?? "", /Holding at 10%: .*no data yet/);
    metrics.setTraffic("quiet", "web-canary", healthy);
    await journey.waitForCanaryWeight(5_000, 30_000);
  });

  test("a platform team's metric template is usable by name", async () => {
    const journey = new Journey(env.cp, "template", route);
    const annotations = analysed({ "serin.dev/analysis": "error-rate<=1" });
    await journey.create({ annotations });
    metrics.setTraffic("template", "web-canary", { ...healthy, successRatio: 0.8 });
    await journey.ship(V2, { annotations });
    const aborted = await journey.waitForPhase("Aborted", 60_000);
    // 50 requests/s at 20% failures: about 10 failures a second, as Prometheus extrapolates it.
    const measured = /error-rate ([\d.]+), wanted error-rate<=1/.exec(aborted["serin.dev/message"] ?? "");
    assert.ok(measured, aborted["serin.dev/message"]);
    assert.ok(Math.abs(Number(measured[1]) - 10) < 2, `measured ${measured[1]}`);
  });

  test("test gates get a POST with the documented body at the end of each step; a failing gate aborts", async () => {
    const journey = new Journey(env.cp, "gated", route);
    const annotations = analysed({ "serin.dev/tests": `${gateBase}/smoke` });
    await journey.create({ annotations });
    metrics.setTraffic("gated", "web-canary", healthy);
    gateStatus = 200;
    gateCalls.length = 0;
    await journey.ship(V2, { annotations });
    await journey.waitForCanaryWeight(5_000, 30_000);
    const revision = (await journey.annotations())["serin.dev/pending-revision"];
    assert.deepEqual(gateCalls[0], {
      path: "/smoke",
      body: {
        deployment: "web",
        namespace: "gated",
        revision,
        step: 1,
        weight: 10,
        canaryService: "web-canary",
      },
    });
    gateStatus = 500;
    const aborted = await journey.waitForPhase("Aborted", 30_000);
    assert.match(
      aborted["serin.dev/message"] ?? "",
      /test gate failed: http:\/\/127\.0\.0\.1:\d+\/smoke answered 500 at 50%/,
    );
    assert.equal(gateCalls.at(-1)?.body.step, 2);
  });

  test("the webhook refuses an analysis name that is neither built in nor a configured template", async () => {
    const journey = new Journey(env.cp, "unknown-metric", route);
    await journey.create();
    const result = await env.cp.kubectl([
      "annotate",
      "deployment",
      "web",
      "-n",
      "unknown-metric",
      "serin.dev/analysis=errors<=1",
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /errors is not a configured metric template \(error-rate\)/);
  });
});
