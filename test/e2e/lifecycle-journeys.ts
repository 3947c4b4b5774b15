import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  type ControlPlaneFixture,
  type ControlPlaneOptions,
  UNREADY_ANNOTATION,
  withControlPlane,
} from "../harness/index.js";
import { Journey, type RouteApi, type SerinWatcher, startCanaryCluster } from "./journey.js";

const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a file that runs the journeys may add tests with, inside the same cluster and describe block. */
export interface JourneyContext {
  env: ControlPlaneFixture;
  route: RouteApi;
}

/**
 * The canary lifecycle as service owners live it: kubectl in, the local cluster with the real controllers,
 * serin watch as its own process. Run by one test file per Kubernetes version of the matrix; `more`
 * adds that version's own tests.
 */
export function lifecycleJourneys(
  title: string,
  clusterOptions: ControlPlaneOptions = {},
  more?: (context: JourneyContext) => void,
): void {
  const env = withControlPlane({ ...clusterOptions, crds: ["trafficsplit-smi-upstream"] });
  let watcher: SerinWatcher;
  let startWatcher: Awaited<ReturnType<typeof startCanaryCluster>>["startWatcher"];

  describe(title, () => {
    before(
      async () => {
        const cluster = await startCanaryCluster(env.cp);
        startWatcher = cluster.startWatcher;
        watcher = await startWatcher();
        await watcher.waitForLog("watcher started");
      },
      { timeout: 60_000 },
    );

    test("kubectl apply v1, then v2: the weights pass through every step in order, then promotion", async () => {
      const journey = new Journey(env.cp, "rollout", route);
      const annotations = { "serin.dev/steps": "10,25,50", "serin.dev/step-interval": "1s" };
      await journey.create({ annotations });
      assert.deepEqual(
        await journey.weights(),
        { stable: 10_000, canary: 0 },
        "an idle Deployment routes all to stable",
      );
      assert.ok(await journey.exists("service", "web-stable"));
      assert.ok(await journey.exists("service", "web-canary"));

      const recorder = journey.recordWeights();
      await journey.ship(V2, { annotations });
      await journey.waitForPhase("Succeeded", 30_000);
      const seen = await recorder.stop();
      assert.deepEqual(seen, [0, 1_000, 2_500, 5_000, 10_000, 0]);
      assert.equal(await journey.image(), V2, "the Deployment runs v2");
      assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
      assert.equal(await journey.get("web-canary"), undefined, "the canary Deployment is gone");
      const after = await journey.status();
      assert.equal(after["serin.dev/weight"], "0");
      assert.equal(after["serin.dev/pending-revision"], undefined);
      const columns = await env.cp.kubectl([
        "get",
        "deploy",
        "web",
        "-n",
        "rollout",
        "-L",
        "serin.dev/phase,serin.dev/weight",
      ]);
      assert.match(
        columns.stdout,
        /PHASE\s+WEIGHT[\s\S]*\bSucceeded\s+0\s*$/m,
        "kubectl get -L shows progress",
      );
      const reasons = (await journey.events()).map((event) => event.reason);
      for (const reason of ["Initialized", "CanaryStarted", "WeightShifted", "Promoting", "Promoted"]) {
        assert.ok(reasons.includes(reason), `event ${reason} in ${reasons.join(", ")}`);
      }
    });

    test("someone else's edit of the TrafficSplit is put right at once", async () => {
      const journey = new Journey(env.cp, "tampered", route);
      await journey.create();
      const backends = [
        { service: "web-stable", weight: 5_000 },
        { service: "web-canary", weight: 5_000 },
      ];
      const edited = await env.cp.kubectl([
        "patch",
        "trafficsplits.split.smi-spec.io",
        "web",
        "-n",
        "tampered",
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { backends } }),
      ]);
      assert.equal(edited.code, 0, edited.stderr);
      const started = Date.now();
      await journey.waitForCanaryWeight(0, 10_000);
      assert.ok(Date.now() - started < 10_000, "repaired from the watch event, not the minute-long resync");
    });

    test("steps 0.1,1,50: the TrafficSplit carries canary 10 / stable 9990 at the first step", async () => {
      const journey = new Journey(env.cp, "fractional", route);
      const annotations = { "serin.dev/steps": "0.1,1,50", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(10);
      assert.deepEqual(await journey.weights(), { stable: 9_990, canary: 10 });
      const after = await journey.waitForPhase("Progressing");
      assert.equal(after["serin.dev/weight"], "0.1");
      const canary = await journey.get("web-canary");
      assert.equal(canary?.spec?.template.spec?.containers[0]?.image, V2);
      assert.equal(canary?.spec?.template.metadata?.labels?.["serin.dev/track"], "canary");
      assert.equal(canary?.metadata?.ownerReferences?.[0]?.name, "web");
    });

    test("abort mid-step: stable 100%, canary removed, still v1; re-applying v2 does not restart it, retry does", async () => {
      const journey = new Journey(env.cp, "abort", route);
      const annotations = { "serin.dev/steps": "10,25", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      await journey.annotate("serin.dev/action", "abort");
      const aborted = await journey.waitForPhase("Aborted");
      assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
      assert.equal(await journey.get("web-canary"), undefined);
      assert.equal(await journey.image(), "registry.example/web:1.0.0");
      assert.match(aborted["serin.dev/message"] ?? "", /aborted by the user at 10%/);
      assert.equal(aborted["serin.dev/action"], undefined, "the one-shot action is consumed");
      assert.ok(
        (await journey.events()).some((event) => event.reason === "Aborted" && event.type === "Warning"),
      );

      const again = await journey.ship(V2, { annotations });
      assert.match(
        again.stderr,
        /was aborted and stays held back; change the pod template or set serin\.dev\/action: retry/,
      );
      await sleep(1_500);
      assert.equal((await journey.status())["serin.dev/phase"], "Aborted", "re-applying does not restart");
      assert.equal(await journey.get("web-canary"), undefined);

      await journey.annotate("serin.dev/action", "retry");
      await journey.waitForPhase("Progressing");
      await journey.waitForCanaryWeight(1_000);
    });

    test("promote skips the remaining steps", async () => {
      const journey = new Journey(env.cp, "promote", route);
      const annotations = { "serin.dev/steps": "10,25,50", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      const recorder = journey.recordWeights();
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      await journey.annotate("serin.dev/action", "promote");
      await journey.waitForPhase("Succeeded");
      assert.deepEqual(await recorder.stop(), [0, 1_000, 10_000, 0]);
      assert.equal(await journey.image(), V2);
    });

    test("pause and resume hold and release; a pause step waits", async () => {
      const journey = new Journey(env.cp, "pause", route);
      const annotations = { "serin.dev/steps": "10,pause,50", "serin.dev/step-interval": "2s" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      await journey.annotate("serin.dev/action", "pause");
      await journey.waitForPhase("Paused");
      await sleep(3_000);
      assert.equal(
        (await journey.weights())?.canary,
        1_000,
        "a paused canary holds its weight past the step interval",
      );
      assert.equal((await journey.status())["serin.dev/phase"], "Paused");

      await journey.annotate("serin.dev/action", "resume");
      await journey.waitForPhase("Progressing");
      const atPauseStep = await journey.waitForPhase("Paused", 10_000);
      assert.match(atPauseStep["serin.dev/message"] ?? "", /a pause step/);
      await sleep(3_000);
      assert.equal((await journey.weights())?.canary, 1_000, "the pause step waits");

      await journey.annotate("serin.dev/action", "resume");
      await journey.waitForCanaryWeight(5_000);
      await journey.waitForPhase("Succeeded", 20_000);
    });

    test("a v3 applied while v2 is at 25%: the canary moves to v3 and weights restart from the first step", async () => {
      const journey = new Journey(env.cp, "third", route);
      const annotations = { "serin.dev/steps": "10,25,50", "serin.dev/step-interval": "2s" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(2_500, 20_000);
      const recorder = journey.recordWeights();
      await journey.ship("registry.example/web:3.0.0", { annotations });
      await journey.waitForCanaryWeight(1_000);
      const seen = await recorder.stop();
      assert.deepEqual(seen.slice(0, 3), [2_500, 0, 1_000], `weights seen: ${seen.join(", ")}`);
      assert.equal(await journey.image("web-canary"), "registry.example/web:3.0.0");
      assert.equal(await journey.image(), "registry.example/web:1.0.0");
    });

    test("a canary never ready is aborted after the progress deadline, saying so", async () => {
      const journey = new Journey(env.cp, "deadline", route);
      const annotations = { "serin.dev/progress-deadline": "3s", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      // kwok is told to leave pods with this annotation unready, as if v2's image could not be pulled.
      await journey.ship(V2, { annotations, podAnnotations: { [UNREADY_ANNOTATION]: "true" } });
      const aborted = await journey.waitForPhase("Aborted", 20_000);
      assert.match(
        aborted["serin.dev/message"] ?? "",
        /did not become ready within the progress deadline of 3s/,
      );
      assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
      assert.equal(await journey.get("web-canary"), undefined);
    });

    test("label removed mid-canary: stable 100%, then canary, split and the two Services removed", async () => {
      const journey = new Journey(env.cp, "opt-out", route);
      const annotations = { "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      const result = await env.cp.kubectl([
        "label",
        "deployment",
        "web",
        "-n",
        "opt-out",
        "serin.dev/canary-",
      ]);
      assert.equal(result.code, 0, result.stderr);
      await journey.waitFor(
        async () => (await journey.weights()) === undefined,
        "the traffic split to be removed",
      );
      assert.equal(await journey.get("web-canary"), undefined);
      assert.equal(await journey.exists("service", "web-stable"), false);
      assert.equal(await journey.exists("service", "web-canary"), false);
      const left = Object.keys(await journey.annotations()).filter((key) => key.startsWith("serin.dev/"));
      assert.deepEqual(left, ["serin.dev/step-interval"], "only the user's own annotations stay");
    });

    test("the Deployment deleted mid-canary: what serin owned is removed", async () => {
      const journey = new Journey(env.cp, "deleted", route);
      const annotations = { "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      assert.equal((await env.cp.kubectl(["delete", "deployment", "web", "-n", "deleted"])).code, 0);
      await journey.waitFor(
        async () => (await journey.weights()) === undefined,
        "the traffic split to be removed",
      );
      await journey.waitFor(
        async () => !(await journey.exists("deployment", "web-canary")),
        "the canary to be removed",
      );
      assert.equal(await journey.exists("service", "web-stable"), false);
      assert.equal(await journey.exists("service", "web-canary"), false);
    });

    test("the split deleted mid-canary: stable 100% on a new split, canary removed, Aborted, an Event says why", async () => {
      const journey = new Journey(env.cp, "split-deleted", route);
      const annotations = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      const inFlight = Object.entries(await journey.annotations()).filter(([key]) =>
        key.startsWith("serin.dev/"),
      );
      const bytes = inFlight.reduce((sum, [key, value]) => sum + key.length + Buffer.byteLength(value), 0);
      assert.ok(bytes < 1_024, `the Deployment's serin.dev/* annotations hold ${bytes} bytes in flight`);

      const deleted = await env.cp.kubectl(["delete", route.kind, "web", "-n", "split-deleted"]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const aborted = await journey.waitForPhase("Aborted");
      assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 }, "a new split at stable 100%");
      assert.match(
        aborted["serin.dev/message"] ?? "",
        /traffic split web was deleted while the canary was in flight/,
      );
      await journey.waitFor(
        async () => !(await journey.exists("deployment", "web-canary")),
        "the canary to be removed",
      );
      assert.equal(await journey.image(), "registry.example/web:1.0.0", "stable still runs v1");
      assert.equal(
        (await journey.annotations())["serin.dev/pending-revision"],
        undefined,
        "the revision let go",
      );
      assert.ok(
        (await journey.events()).some((event) => event.reason === "Aborted" && event.type === "Warning"),
      );
    });

    test("the watcher killed mid-step and restarted resumes the same step: weights unchanged, canary not restarted", async () => {
      const journey = new Journey(env.cp, "restart", route);
      const annotations = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship(V2, { annotations });
      await journey.waitForCanaryWeight(1_000);
      const before = await journey.status();
      const canary = await journey.get("web-canary");

      await watcher.kill();
      watcher = await startWatcher();
      await watcher.waitForLog("watcher started");
      await sleep(2_000);

      assert.deepEqual(await journey.weights(), { stable: 9_000, canary: 1_000 });
      const after = await journey.status();
      assert.ok(before["serin.dev/state"], "the state is on the split");
      assert.equal(after["serin.dev/state"], before["serin.dev/state"], "same step, same step start");
      assert.equal(after["serin.dev/phase"], "Progressing");
      const canaryAfter = await journey.get("web-canary");
      assert.equal(canaryAfter?.metadata?.uid, canary?.metadata?.uid);
      assert.equal(canaryAfter?.metadata?.generation, canary?.metadata?.generation);
    });
    more?.({ env, route });
  });
}
