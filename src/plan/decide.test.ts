import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import { deployment as fixtureDeployment } from "../admission/review-fixtures.js";
import { templateRevision, withoutTrackLabel } from "../contract/revision.js";
import type { AbortCause, Action, Plan } from "./actions.js";
import { type GateVerdict, type Observed, type ObservedRoute, plan } from "./decide.js";
import type { GateOutcome } from "./gates.js";
import { canaryDeployment } from "./objects.js";

const T0 = new Date("2026-11-30T10:00:00Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const apex: V1Service = {
  metadata: { name: "web", namespace: "shop" },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
};

function readyStatus(deployment: V1Deployment): V1Deployment {
  const replicas = deployment.spec?.replicas ?? 1;
  return {
    ...deployment,
    metadata: { ...deployment.metadata, generation: 1 },
    status: {
      observedGeneration: 1,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    },
  };
}

/**
 * A small in-memory world in which the planner's actions take effect, as the watcher would perform
 * them on the API server, and Deployments become ready at once unless told otherwise. Gate jobs finish
 * at once and, as in the watcher, their Deployment is reconciled again right away.
 */
class World {
  deployment: V1Deployment;
  canary: V1Deployment | undefined;
  route: ObservedRoute | undefined;
  canaryReady = true;
  primaryReady = true;
  servicesEnsured = false;
  routingRemoved = false;
  events: string[] = [];
  /** The cause every Aborted event names, in order. */
  abortCauses: AbortCause[] = [];
  weights: number[] = [];
  /** What the metric checks and the test gates answer whenever they run. */
  analysis: GateVerdict | undefined;
  tests: GateVerdict = { result: "pass" };
  checksOutcome: GateOutcome | undefined;
  testsOutcome: GateOutcome | undefined;
  log: Action["type"][] = [];

  constructor(annotations: Record<string, string> = {}) {
    this.deployment = readyStatus(fixtureDeployment({ annotations }));
  }

  get annotations() {
    return this.deployment.metadata?.annotations ?? {};
  }

  get labels() {
    return this.deployment.metadata?.labels ?? {};
  }

  get canaryWeight(): number | undefined {
    return this.route?.canaryWeight;
  }

  /** serin's annotations on the split. */
  get routeAnnotations(): Record<string, string> {
    return this.route?.annotations ?? {};
  }

  get message(): string {
    return this.routeAnnotations["serin.dev/message"] ?? "";
  }

  observed(now: Date): Observed {
    return {
      now,
      deployment: this.deployment,
      canary: this.canary,
      apexService: apex,
      route: this.route,
      ...(this.checksOutcome ? { checks: this.checksOutcome } : {}),
      ...(this.testsOutcome ? { tests: this.testsOutcome } : {}),
      running: { checks: false, tests: false },
    };
  }

  /** What the webhook does on `kubectl apply` of a new image. */
  applyImage(image: string) {
    const template = structuredClone(this.deployment.spec?.template ?? {});
    const container = template.spec?.containers[0];
    if (container) container.image = image;
    const revision = templateRevision(template);
    this.annotate({
      "serin.dev/pending-template": JSON.stringify(withoutTrackLabel(template)),
      "serin.dev/pending-revision": revision,
    });
    this.label({ "serin.dev/phase": "Pending" });
    return revision;
  }

  annotate(values: Record<string, string | null>) {
    this.deployment = {
      ...this.deployment,
      metadata: { ...this.deployment.metadata, annotations: apply(this.annotations, values) },
    };
  }

  label(values: Record<string, string | null>) {
    this.deployment = {
      ...this.deployment,
      metadata: { ...this.deployment.metadata, labels: apply(this.labels, values) },
    };
  }

  reconcile(now: Date): Plan {
    let decided = this.once(now);
    for (
      let again = 0;
      again < 3 && decided.actions.some((a) => a.type === "runChecks" || a.type === "callTests");
      again++
    ) {
      const next = this.once(now);
      decided = { ...next, actions: [...decided.actions, ...next.actions] };
    }
    return decided;
  }

  private once(now: Date): Plan {
    const decided = plan(this.observed(now));
    for (const action of decided.actions) {
      this.log.push(action.type);
      switch (action.type) {
        case "ensureServices":
          this.servicesEnsured = true;
          break;
        case "writeRoute":
          if (this.route?.canaryWeight !== action.canary) this.weights.push(action.canary);
          this.route = {
            canaryWeight: action.canary,
            annotations: apply(this.route?.annotations ?? {}, action.annotations),
          };
          break;
        case "applyCanary": {
          const desired = canaryDeployment(this.deployment, action.template, action.revision);
          this.canary = this.canaryReady ? readyStatus(desired) : { ...desired, status: {} };
          break;
        }
        case "deleteCanary":
          this.canary = undefined;
          break;
        case "removeRouting":
          this.routingRemoved = true;
          this.route = undefined;
          break;
        case "writeDeployment": {
          this.annotate(action.annotations);
          this.label(action.labels);
          if (action.template) {
            const spec = { ...this.deployment.spec, template: action.template } as V1Deployment["spec"];
            const generation = (this.deployment.metadata?.generation ?? 1) + 1;
            this.deployment = {
              ...this.deployment,
              spec,
              metadata: { ...this.deployment.metadata, generation },
              status: {
                ...this.deployment.status,
                observedGeneration: this.primaryReady ? generation : generation - 1,
              },
            };
          }
          break;
        }
        case "event":
          this.events.push(action.reason);
          if (action.reason === "Aborted") {
            assert.ok(action.abortCause, `an Aborted event names its cause: ${action.message}`);
            this.abortCauses.push(action.abortCause);
          }
          break;
        case "runChecks":
          if (this.analysis)
            this.checksOutcome = { verdict: this.analysis, ticket: action.ticket, at: now.toISOString() };
          break;
        case "callTests":
          this.testsOutcome = { verdict: this.tests, ticket: action.ticket, at: now.toISOString() };
          break;
      }
    }
    return decided;
  }

  /** Idle at T0, v2 shipped, canary ready at T0+1s, first step written at T0+2s. */
  startCanary(image = "web:2"): string {
    this.reconcile(T0);
    const revision = this.applyImage(image);
    this.reconcile(at(1));
    this.reconcile(at(2));
    return revision;
  }

  get phase() {
    return this.labels["serin.dev/phase"];
  }
}

function apply(
  current: Record<string, string>,
  changes: Record<string, string | null>,
): Record<string, string> {
  const next = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

describe("planner: the canary lifecycle", () => {
  test("a newly enabled Deployment gets its Services before a split at stable 100%, then Idle", () => {
    const world = new World();
    world.reconcile(T0);
    assert.deepEqual(world.log.slice(0, 2), ["ensureServices", "writeRoute"]);
    assert.equal(world.canaryWeight, 0);
    assert.equal(world.phase, "Idle");
    assert.equal(world.labels["serin.dev/weight"], "0");
    assert.deepEqual(world.events, ["Initialized"]);
    world.log = [];
    const again = world.reconcile(at(1));
    assert.deepEqual(
      again.actions.map((action) => action.type),
      ["ensureServices"],
      "a steady Deployment is left alone",
    );
  });

  test("v1 to v2: every step in order on the schedule, then promotion and Succeeded", () => {
    const world = new World({ "serin.dev/steps": "10,25,50,75", "serin.dev/step-interval": "1m" });
    world.reconcile(T0);
    const revision = world.applyImage("registry.example/web:2.0.0");

    world.reconcile(at(1));
    assert.equal(world.phase, "Pending");
    assert.equal(world.canary?.metadata?.name, "web-canary");
    assert.equal(world.canary?.spec?.template.metadata?.labels?.["serin.dev/track"], "canary");
    assert.deepEqual(
      world.canary?.metadata?.labels,
      {
        app: "web",
        "serin.dev/deployment": "web",
        "serin.dev/track": "canary",
      },
      "the canary carries neither the opt-in label nor the primary's status labels",
    );
    assert.deepEqual(world.events.slice(-1), ["CanaryStarted"]);

    const first = world.reconcile(at(2));
    assert.equal(world.phase, "Progressing");
    assert.equal(world.labels["serin.dev/weight"], "10");
    assert.equal(world.canaryWeight, 1_000);
    assert.equal(first.requeueAfterMs, 60_000);

    const holding = world.reconcile(at(32));
    assert.equal(world.canaryWeight, 1_000, "the step is held for its interval");
    assert.equal(holding.requeueAfterMs, 30_000);

    world.reconcile(at(62));
    assert.equal(world.canaryWeight, 2_500);
    world.reconcile(at(122));
    world.reconcile(at(182));
    assert.equal(world.canaryWeight, 7_500);
    assert.equal(world.labels["serin.dev/weight"], "75");
    assert.equal(
      world.deployment.metadata?.labels?.["serin.dev/weight"],
      "75",
      "mirrored as a label for kubectl -L",
    );
    assert.equal(world.deployment.metadata?.labels?.["serin.dev/phase"], "Progressing");

    world.reconcile(at(242));
    assert.equal(world.phase, "Promoting");
    assert.equal(world.canaryWeight, 10_000, "canary takes all traffic before the template is copied");
    assert.equal(templateRevision(world.deployment.spec?.template), revision);

    world.reconcile(at(243));
    assert.equal(world.phase, "Succeeded");
    assert.equal(world.canaryWeight, 0);
    assert.equal(world.canary, undefined);
    assert.equal(world.annotations["serin.dev/pending-revision"], undefined);
    assert.equal(world.routeAnnotations["serin.dev/state"], undefined);
    assert.deepEqual(world.weights, [0, 1_000, 2_500, 5_000, 7_500, 10_000, 0]);
    assert.deepEqual(
      world.events.filter((reason) => reason !== "Initialized"),
      [
        "CanaryStarted",
        "WeightShifted",
        "WeightShifted",
        "WeightShifted",
        "WeightShifted",
        "Promoting",
        "Promoted",
      ],
    );
  });

  test("fractional steps: 0.1% is canary 10 of 10000", () => {
    const world = new World({ "serin.dev/steps": "0.1,1,50" });
    world.startCanary();
    assert.equal(world.canaryWeight, 10);
    assert.equal(world.labels["serin.dev/weight"], "0.1");
  });

  test("the promotion waits for the Deployment's rollout before stable takes traffic back", () => {
    const world = new World({ "serin.dev/steps": "50", "serin.dev/step-interval": "1s" });
    world.startCanary();
    world.primaryReady = false;
    world.reconcile(at(4));
    assert.equal(world.phase, "Promoting");
    const waiting = world.reconcile(at(5));
    assert.equal(world.phase, "Promoting");
    assert.equal(world.canaryWeight, 10_000);
    assert.ok(world.canary, "the canary keeps serving");
    assert.match(world.message, /waiting for the Deployment to roll out/);
    assert.ok((waiting.requeueAfterMs ?? 0) > 0);
    world.deployment = readyStatus({
      ...world.deployment,
      metadata: { ...world.deployment.metadata, generation: 1 },
    });
    world.reconcile(at(6));
    assert.equal(world.phase, "Succeeded");
  });

  test("a pause step holds until resume, then the next step starts", () => {
    const world = new World({ "serin.dev/steps": "10,pause,50", "serin.dev/step-interval": "10s" });
    world.startCanary();
    const paused = world.reconcile(at(12));
    assert.equal(world.phase, "Paused");
    assert.equal(world.canaryWeight, 1_000, "a pause holds the previous weight");
    assert.equal(paused.requeueAfterMs, undefined, "an indefinite stop has no timer");
    world.reconcile(at(3600));
    assert.equal(world.phase, "Paused");
    world.annotate({ "serin.dev/action": "resume" });
    world.reconcile(at(3601));
    assert.equal(world.phase, "Progressing");
    assert.equal(world.canaryWeight, 5_000);
    assert.equal(world.annotations["serin.dev/action"], undefined, "the one-shot action is removed");
  });

  test("a user's pause freezes the step; resume keeps the hold time that was left", () => {
    const world = new World({ "serin.dev/steps": "10,50", "serin.dev/step-interval": "60s" });
    world.startCanary();
    world.annotate({ "serin.dev/action": "pause" });
    world.reconcile(at(22));
    assert.equal(world.phase, "Paused");
    world.reconcile(at(500));
    assert.equal(world.canaryWeight, 1_000);
    world.annotate({ "serin.dev/action": "resume" });
    const resumed = world.reconcile(at(600));
    assert.equal(world.phase, "Progressing");
    assert.equal(resumed.requeueAfterMs, 40_000, "20s of 60s were held before the pause");
    world.reconcile(at(639));
    assert.equal(world.canaryWeight, 1_000);
    world.reconcile(at(640));
    assert.equal(world.canaryWeight, 5_000);
  });

  test("promote skips the remaining steps", () => {
    const world = new World({ "serin.dev/steps": "10,25,50" });
    world.startCanary();
    world.annotate({ "serin.dev/action": "promote" });
    world.reconcile(at(3));
    assert.equal(world.phase, "Promoting");
    world.reconcile(at(4));
    assert.equal(world.phase, "Succeeded");
    assert.deepEqual(world.weights, [0, 1_000, 10_000, 0]);
  });

  test("abort writes stable 100% before anything else, removes the canary, keeps the Deployment on v1", () => {
    const world = new World({ "serin.dev/steps": "10,25,50" });
    world.reconcile(T0);
    const before = world.deployment.spec?.template;
    const revision = world.applyImage("web:2");
    world.reconcile(at(1));
    world.reconcile(at(2));
    world.annotate({ "serin.dev/action": "abort" });
    world.log = [];
    const aborted = world.reconcile(at(3));
    assert.equal(aborted.actions[0]?.type, "writeRoute");
    assert.equal(aborted.actions[0]?.type === "writeRoute" && aborted.actions[0].canary, 0);
    assert.deepEqual(world.log, ["writeRoute", "event", "ensureServices", "deleteCanary", "writeDeployment"]);
    assert.equal(world.phase, "Aborted");
    assert.equal(world.canary, undefined);
    assert.deepEqual(world.deployment.spec?.template, before);
    assert.equal(
      world.annotations["serin.dev/pending-revision"],
      revision,
      "kept, so the webhook recognises a re-apply",
    );
    assert.match(world.message, /aborted by the user at 10%/);
    assert.deepEqual(world.events.slice(-1), ["Aborted"]);
    assert.deepEqual(world.abortCauses, ["user"]);

    world.log = [];
    world.reconcile(at(10));
    assert.deepEqual(world.log, ["ensureServices"], "an aborted canary stays aborted");

    world.annotate({ "serin.dev/action": "retry" });
    world.reconcile(at(11));
    assert.equal(world.phase, "Pending");
    assert.ok(world.canary);
    world.reconcile(at(12));
    assert.equal(world.canaryWeight, 1_000, "retry starts again from the first step");
  });

  test("a third revision mid-flight re-points the canary and restarts from the first step", () => {
    const world = new World({ "serin.dev/steps": "10,25,50", "serin.dev/step-interval": "10s" });
    world.startCanary();
    world.reconcile(at(12));
    assert.equal(world.canaryWeight, 2_500);
    const v3 = world.applyImage("web:3");
    world.reconcile(at(13));
    assert.equal(world.canaryWeight, 0, "no traffic to the canary while it changes version");
    assert.equal(world.canary?.metadata?.annotations?.["serin.dev/revision"], v3);
    assert.equal(world.canary?.spec?.template.spec?.containers[0]?.image, "web:3");
    world.reconcile(at(14));
    assert.equal(world.canaryWeight, 1_000);
  });

  test("a canary never ready is aborted at the progress deadline, saying so", () => {
    const world = new World({ "serin.dev/progress-deadline": "2m" });
    world.canaryReady = false;
    world.reconcile(T0);
    world.applyImage("web:2");
    world.reconcile(at(1));
    const waiting = world.reconcile(at(60));
    assert.equal(world.phase, "Pending");
    assert.equal(waiting.requeueAfterMs, 5_000);
    world.reconcile(at(121));
    assert.equal(world.phase, "Aborted");
    assert.match(world.message, /did not become ready within the progress deadline of 2m/);
    assert.deepEqual(world.abortCauses, ["progress-deadline"]);
    assert.equal(world.canaryWeight, 0);
  });

  test("failed checks are tolerated up to the failure limit, then abort; no data holds the step", () => {
    const world = new World({
      "serin.dev/steps": "10,50",
      "serin.dev/step-interval": "10s",
      "serin.dev/analysis": "success-rate>=99",
      "serin.dev/analysis-interval": "5s",
      "serin.dev/failure-limit": "1",
    });
    world.reconcile(T0);
    world.applyImage("web:2");
    world.reconcile(at(1));
    const first = world.reconcile(at(2));
    assert.equal(first.requeueAfterMs, 5_000, "the first check is due one analysis interval into the step");
    world.analysis = { result: "inconclusive", reason: "success-rate has no data yet" };
    world.reconcile(at(7));
    world.reconcile(at(12));
    world.reconcile(at(17));
    assert.equal(world.canaryWeight, 1_000, "no data does not advance, past the step interval too");
    assert.match(world.message, /Holding at 10%: success-rate has no data yet/);
    world.analysis = { result: "fail", reason: "success-rate 91%, wanted success-rate>=99" };
    world.reconcile(at(22));
    assert.equal(world.phase, "Progressing");
    assert.deepEqual(world.events.slice(-1), ["AnalysisFailed"]);
    assert.match(world.message, /Check failed at 10% \(1 of 1 tolerated\)/);
    world.reconcile(at(27));
    assert.equal(world.phase, "Aborted");
    assert.match(world.message, /checks failed at 10%: success-rate 91%/);
    assert.deepEqual(world.abortCauses, ["analysis"]);
    assert.equal(world.canaryWeight, 0);
  });

  test("a passing check clears earlier failures; passing checks and test gates end the step", () => {
    const world = new World({
      "serin.dev/steps": "10,50",
      "serin.dev/step-interval": "10s",
      "serin.dev/analysis": "success-rate>=99",
      "serin.dev/analysis-interval": "5s",
      "serin.dev/failure-limit": "1",
      "serin.dev/tests": "http://smoke.shop.svc/run",
    });
    world.startCanary();
    world.analysis = { result: "fail", reason: "p99 high" };
    world.reconcile(at(7));
    world.analysis = { result: "pass" };
    world.reconcile(at(12));
    assert.equal(world.canaryWeight, 5_000, "checks and tests passed at the end of the step");
    world.analysis = { result: "fail", reason: "p99 high" };
    world.reconcile(at(17));
    assert.equal(world.phase, "Progressing", "one failure is tolerated again: the pass cleared the count");
    world.analysis = { result: "pass" };
    world.tests = { result: "fail", reason: "test gate failed: http://smoke.shop.svc/run answered 500" };
    world.reconcile(at(22));
    assert.equal(world.phase, "Aborted", "a failed test gate aborts at once");
    assert.match(world.message, /answered 500 at 50%/);
  });

  test("removing the label puts stable at 100% first, then removes canary, split, Services and status", () => {
    const world = new World();
    world.startCanary();
    const labels = { ...world.deployment.metadata?.labels };
    delete labels["serin.dev/canary"];
    world.deployment = { ...world.deployment, metadata: { ...world.deployment.metadata, labels } };
    world.log = [];
    world.reconcile(at(3));
    assert.deepEqual(world.log, ["writeRoute", "deleteCanary", "removeRouting", "writeDeployment", "event"]);
    assert.deepEqual(world.weights.slice(-1), [0]);
    assert.ok(world.routingRemoved);
    assert.equal(
      Object.keys(world.annotations).filter((key) => key.startsWith("serin.dev/")).length,
      0,
      "status annotations removed",
    );
    assert.deepEqual(
      Object.keys(world.deployment.metadata?.labels ?? {}).filter((key) => key.startsWith("serin.dev/")),
      [],
      "mirrored labels removed",
    );
    world.log = [];
    world.reconcile(at(4));
    assert.deepEqual(world.log, [], "nothing left to clean");
  });

  test("an action with nothing to act on is removed with an event saying why", () => {
    const world = new World();
    world.reconcile(T0);
    world.annotate({ "serin.dev/action": "promote" });
    world.reconcile(at(1));
    assert.equal(world.annotations["serin.dev/action"], undefined);
    assert.deepEqual(world.events.slice(-1), ["ActionIgnored"]);
  });

  test("without the apex Service the Deployment waits in Initializing and says for what", () => {
    const world = new World();
    const decided = plan({ ...world.observed(T0), apexService: undefined });
    const write = decided.actions.find((action) => action.type === "writeDeployment");
    assert.equal(write?.type === "writeDeployment" && write.labels["serin.dev/phase"], "Initializing");
    const said = decided.actions.find((action) => action.type === "event");
    assert.match(String(said?.type === "event" && said.message), /Waiting for Service web/);
    assert.ok(
      !decided.actions.some((action) => action.type === "writeRoute"),
      "no split without its Service",
    );
  });

  test("a restarted watcher resumes the same step from the state on the split", () => {
    const world = new World({ "serin.dev/steps": "10,25", "serin.dev/step-interval": "60s" });
    world.startCanary();
    const before = world.routeAnnotations["serin.dev/state"];
    // A new process: nothing in memory, the same objects.
    const fresh = plan(world.observed(at(30)));
    assert.ok(
      !fresh.actions.some((action) => action.type === "writeDeployment" || action.type === "writeRoute"),
      "no restart written: the split already says step 1 at 10%",
    );
    assert.equal(fresh.requeueAfterMs, 32_000);
    assert.equal(world.routeAnnotations["serin.dev/state"], before);
  });

  test("while a canary runs the Deployment carries only the pending revision: the rest is on the split", () => {
    const world = new World({ "serin.dev/steps": "10,50", "serin.dev/step-interval": "10s" });
    const revision = world.startCanary();
    world.reconcile(at(12));
    const serinAnnotations = Object.keys(world.annotations).filter((key) => key.startsWith("serin.dev/"));
    assert.deepEqual(serinAnnotations.sort(), [
      "serin.dev/pending-revision",
      "serin.dev/step-interval",
      "serin.dev/steps",
    ]);
    assert.equal(world.annotations["serin.dev/pending-revision"], revision);
    assert.equal(world.labels["serin.dev/phase"], "Progressing");
    assert.equal(world.labels["serin.dev/weight"], "50");
    assert.ok(world.routeAnnotations["serin.dev/pending-template"], "the template in flight is on the split");
    assert.match(world.routeAnnotations["serin.dev/state"] ?? "", /"step":1/);
    assert.match(world.message, /Canary weight 50% \(step 2 of 2\)/);
  });

  test("a step costs one split write and one label write: nothing that bumps the Deployment's generation", () => {
    const world = new World({ "serin.dev/steps": "10,20,30", "serin.dev/step-interval": "10s" });
    world.startCanary();
    world.log = [];
    const step = world.reconcile(at(12));
    assert.deepEqual(world.log, ["ensureServices", "writeRoute", "event", "writeDeployment"]);
    const write = step.actions.find((action) => action.type === "writeDeployment");
    assert.deepEqual(write?.type === "writeDeployment" && write.annotations, {}, "no annotation changes");
    assert.deepEqual(write?.type === "writeDeployment" && write.labels, { "serin.dev/weight": "20" });
  });

  test("the split deleted mid-canary: stable 100% on a new split, canary removed, the revision let go, said why", () => {
    const world = new World({ "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" });
    world.startCanary();
    world.route = undefined;
    world.reconcile(at(10));
    assert.equal(world.phase, "Aborted");
    assert.equal(world.canaryWeight, 0);
    assert.equal(world.canary, undefined);
    assert.equal(world.annotations["serin.dev/pending-revision"], undefined, "a re-apply starts afresh");
    assert.match(world.message, /traffic split web was deleted while the canary was in flight/);
    assert.deepEqual(world.events.slice(-1), ["Aborted"]);
    assert.deepEqual(world.abortCauses, ["split-deleted"]);
  });

  test("status annotations of earlier versions are removed from the Deployment", () => {
    const world = new World({
      "serin.dev/state": "{}",
      "serin.dev/message": "old",
      "serin.dev/phase": "Idle",
    });
    world.reconcile(T0);
    world.reconcile(at(1));
    for (const key of ["serin.dev/state", "serin.dev/message", "serin.dev/phase"]) {
      assert.equal(world.annotations[key], undefined, `${key} removed`);
    }
  });

  test("someone else's Service where a track Service would go: nothing written to it, the canary aborted", () => {
    const world = new World({ "serin.dev/step-interval": "1h" });
    world.startCanary();
    world.log = [];
    const decided = plan({
      ...world.observed(at(5)),
      collision: { what: "Service shop/web-stable", route: false },
    });
    const types = decided.actions.map((action) => action.type);
    assert.ok(
      !types.includes("ensureServices") || types.indexOf("writeRoute") < types.indexOf("ensureServices"),
    );
    const said = decided.actions.find((action) => action.type === "event");
    assert.match(
      String(said?.type === "event" && said.message),
      /Service shop\/web-stable exists and is not serin's/,
    );
    const write = decided.actions.find((action) => action.type === "writeDeployment");
    assert.equal(write?.type === "writeDeployment" && write.labels["serin.dev/phase"], "Aborted");
    assert.equal(said?.type === "event" && said.abortCause, "name-collision");
  });

  test("the promotion's last Deployment write lost a race: the retry still ends in Succeeded, not Idle", () => {
    const world = new World({ "serin.dev/steps": "50", "serin.dev/step-interval": "1s" });
    world.startCanary();
    world.reconcile(at(4));
    assert.equal(world.phase, "Promoting");
    // The final decision: only its split write lands (template and state dropped from the split).
    const final = plan(world.observed(at(5)));
    const splitWrite = final.actions.find((action) => action.type === "writeRoute");
    assert.ok(splitWrite?.type === "writeRoute");
    world.route = { canaryWeight: splitWrite.canary, annotations: { ...world.routeAnnotations } };
    for (const [key, value] of Object.entries(splitWrite.annotations)) {
      if (value === null) delete world.route.annotations[key];
      else world.route.annotations[key] = value;
    }
    world.reconcile(at(6));
    assert.equal(world.phase, "Succeeded");
    assert.equal(world.annotations["serin.dev/pending-revision"], undefined);
  });

  test("a step whose weight label write was lost: the next reconcile puts the label right from the split", () => {
    const world = new World({ "serin.dev/steps": "12.50,50", "serin.dev/step-interval": "1m" });
    world.reconcile(T0);
    world.applyImage("web:2");
    world.reconcile(at(1));
    world.reconcile(at(2));
    assert.equal(world.canaryWeight, 1_250);
    assert.equal(world.labels["serin.dev/weight"], "12.5", "percent as the split carries it");
    // The label write of that step lost a race (the split's write landed): the label still says 0.
    world.label({ "serin.dev/weight": "0" });
    const next = world.reconcile(at(3));
    assert.equal(world.labels["serin.dev/weight"], "12.5");
    assert.equal(world.canaryWeight, 1_250, "no step taken again");
    assert.ok(!next.actions.some((action) => action.type === "writeRoute"));
    const writes = world
      .reconcile(at(4))
      .actions.filter((action) => action.type === "writeDeployment" || action.type === "writeRoute");
    assert.deepEqual(writes, [], "and nothing more to write");
  });

  test("a failed test gate aborts, naming the test gate as the cause", () => {
    const world = new World({
      "serin.dev/steps": "10,50",
      "serin.dev/step-interval": "10s",
      "serin.dev/tests": "http://smoke",
    });
    world.tests = { result: "fail", reason: "http://smoke.shop.svc answered 500" };
    world.startCanary();
    world.reconcile(at(13));
    assert.equal(world.phase, "Aborted");
    assert.deepEqual(world.abortCauses, ["test-gate"]);
  });

  test("a step taken on schedule says when it was due; the first step and a user's promote do not", () => {
    const world = new World({ "serin.dev/steps": "10,25,50", "serin.dev/step-interval": "1m" });
    world.reconcile(T0);
    world.applyImage("web:2");
    world.reconcile(at(1));
    const dueOf = (decided: Plan) =>
      decided.actions.find((action) => action.type === "writeRoute" && action.dueAt !== undefined);
    const first = world.reconcile(at(2));
    assert.equal(world.canaryWeight, 1_000);
    assert.equal(dueOf(first), undefined, "the first step follows the canary's readiness, no schedule");
    // Late by 7 s: the step was due at 62 s, one interval after the first step's weight was written.
    const second = world.reconcile(at(69));
    assert.equal(world.canaryWeight, 2_500);
    const write = dueOf(second);
    assert.equal(write?.type === "writeRoute" && write.dueAt, at(62).toISOString());
    assert.equal(write?.type === "writeRoute" && write.canary, 2_500);
    world.annotate({ "serin.dev/action": "promote" });
    const promoted = world.reconcile(at(70));
    assert.equal(world.phase, "Promoting");
    assert.equal(dueOf(promoted), undefined, "a user's promote is not a schedule");
  });
});
