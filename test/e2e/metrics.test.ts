import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { registerWebhook, repoRoot, type SerinWebhook, waitFor, withControlPlane } from "../harness/index.js";
import { Journey } from "./journey.js";
import {
  applyChartAccess,
  probe,
  type Sample,
  sampleValue,
  scrape,
  startRunReplica,
  waitForLog,
} from "./serin-run.js";

/**
 * The watcher's metrics on /metrics of `serin run`, while the real watcher runs canaries on the real
 * control plane: what a dashboard or an alert would read.
 */
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const web = { namespace: "shop", name: "web" };
let leader: SerinWebhook;
let standby: SerinWebhook;

/** Where shop/web stands in a scrape: its phase (the one at 1), weight and step; undefined without series. */
function canaryIn(samples: Sample[]): { phase: string; weight: number; step: number } | undefined {
  const phase = samples.find(
    (sample) =>
      sample.name === "serin_canary_phase" &&
      sample.labels.namespace === web.namespace &&
      sample.labels.name === web.name &&
      sample.value === 1,
  )?.labels.phase;
  const weight = sampleValue(samples, "serin_canary_weight", web);
  const step = sampleValue(samples, "serin_canary_step", web);
  if (phase === undefined || weight === undefined || step === undefined) return undefined;
  return { phase, weight, step };
}

const canarySeries = (samples: Sample[]) =>
  samples.filter((sample) => sample.name.startsWith("serin_canary_") && sample.labels.name === web.name);

describe("the watcher's metrics", () => {
  before(
    async () => {
      const kubeconfig = await applyChartAccess(env.cp);
      leader = await startRunReplica(env.cp, kubeconfig, ["--lease-duration", "3s"]);
      await waitForLog(leader, "watcher started");
      await registerWebhook(env.cp, { port: leader.port, caBundle: leader.caBundle });
      standby = await startRunReplica(env.cp, kubeconfig, ["--lease-duration", "3s"]);
      await waitFor(async () => ((await probe(standby, "/readyz")) === 200 ? true : undefined), {
        timeoutMs: 20_000,
        what: "the standby to be ready",
      });
    },
    { timeout: 60_000 },
  );

  test("the leader's /metrics follows a canary step by step and counts its promotion; the standby reports no canary", {
    timeout: 90_000,
  }, async () => {
    const journey = new Journey(env.cp, web.namespace, route);
    const annotations = { "serin.dev/steps": "10,20", "serin.dev/step-interval": "2s" };
    await journey.create({ annotations });

    // Every change the leader's /metrics shows for shop/web, polled as a fast Prometheus would.
    const seen: { phase: string; weight: number; step: number }[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const now = canaryIn(await scrape(leader));
        const last = seen[seen.length - 1];
        if (now && (!last || JSON.stringify(last) !== JSON.stringify(now))) seen.push(now);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await waitFor(async () => (seen.length > 0 ? true : undefined), {
      timeoutMs: 10_000,
      what: "a first scrape",
    });
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForPhase("Succeeded", 40_000);
    await waitFor(async () => (seen[seen.length - 1]?.phase === "Succeeded" ? true : undefined), {
      timeoutMs: 10_000,
      what: "/metrics to show Succeeded",
    });
    polling = false;
    await poll;

    const progressing = seen.filter((sample) => sample.phase === "Progressing");
    assert.deepEqual(
      progressing.map(({ weight, step }) => [weight, step]),
      [
        [10, 1],
        [20, 2],
      ],
      `each step with its weight, in order: ${JSON.stringify(seen)}`,
    );
    const phases = seen.map((sample) => sample.phase).filter((phase, i, all) => phase !== all[i - 1]);
    assert.deepEqual(phases[0], "Idle");
    assert.ok(phases.indexOf("Pending") < phases.indexOf("Progressing"), phases.join(" > "));
    assert.equal(phases[phases.length - 1], "Succeeded", phases.join(" > "));

    const samples = await scrape(leader);
    assert.equal(sampleValue(samples, "serin_canary_promotions_total", web), 1);
    assert.deepEqual(canaryIn(samples), { phase: "Succeeded", weight: 0, step: 0 });
    assert.equal(sampleValue(samples, "serin_canary_status", web), 1, "Flagger's 1: successful");
    assert.equal(sampleValue(samples, "serin_canary_failed_checks", web), 0);
    assert.equal(sampleValue(samples, "serin_canary_total", { namespace: "shop" }), 1);
    assert.ok((sampleValue(samples, "serin_step_skew_seconds_count") ?? 0) >= 1, "the second step was due");
    assert.ok((sampleValue(samples, "serin_reconcile_duration_seconds_count") ?? 0) > 0);
    // Counted from 0 (a loaded machine may see a lost race or a slow Lease renewal counted there).
    assert.equal(typeof sampleValue(samples, "serin_reconcile_errors_total"), "number");
    assert.equal(sampleValue(samples, "serin_leader"), 1);
    const version = (JSON.parse(readFileSync(`${repoRoot}/package.json`, "utf8")) as { version: string })
      .version;
    assert.equal(
      sampleValue(samples, "serin_info", { version, router: "TrafficSplit split.smi-spec.io/v1alpha4" }),
      1,
    );
    assert.ok((sampleValue(samples, "serin_admission_requests_total", { outcome: "patched" }) ?? 0) > 0);

    const standbys = await scrape(standby);
    assert.equal(sampleValue(standbys, "serin_leader"), 0);
    assert.deepEqual(canarySeries(standbys), [], "a standby reports no per-canary series");
  });

  test("an abort is counted by its reason; opting out and deleting the Deployment drop its series", {
    timeout: 90_000,
  }, async () => {
    const journey = new Journey(env.cp, web.namespace, route);
    const annotations = { "serin.dev/steps": "10,20", "serin.dev/step-interval": "1h" };
    await journey.ship("registry.example/web:3.0.0", { annotations });
    await journey.waitForCanaryWeight(1_000, 30_000);
    await journey.annotate("serin.dev/action", "abort");
    await journey.waitForPhase("Aborted", 20_000);
    const series = () => scrape(leader).then(canarySeries);
    await waitFor(
      async () =>
        sampleValue(await scrape(leader), "serin_canary_aborts_total", { ...web, reason: "user" }) === 1
          ? true
          : undefined,
      { timeoutMs: 10_000, what: "the abort counted with reason user" },
    );
    const aborted = await scrape(leader);
    assert.equal(sampleValue(aborted, "serin_canary_status", web), 2, "Flagger's 2: failed");
    assert.equal(
      sampleValue(aborted, "serin_canary_promotions_total", web),
      1,
      "the earlier promotion stays",
    );

    const label = (value: string) =>
      env.cp.kubectl(["label", "deployment", "web", "-n", "shop", "--overwrite", `serin.dev/canary${value}`]);
    assert.equal((await label("-")).code, 0);
    await waitFor(async () => ((await series()).length === 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the opted-out canary's series to go",
    });
    assert.equal((await label("=enabled")).code, 0);
    await waitFor(async () => (canaryIn(await scrape(leader))?.phase === "Idle" ? true : undefined), {
      timeoutMs: 20_000,
      what: "the re-enabled Deployment to be reported Idle",
    });
    assert.equal((await env.cp.kubectl(["delete", "deployment", "web", "-n", "shop"])).code, 0);
    await waitFor(async () => ((await series()).length === 0 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the deleted Deployment's series to go",
    });
    assert.equal(sampleValue(await scrape(leader), "serin_canary_total", { namespace: "shop" }), undefined);
  });
});
