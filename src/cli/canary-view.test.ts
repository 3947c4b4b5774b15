import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import {
  actionCommands,
  age,
  describeStatus,
  type EventView,
  progressBar,
  stepClock,
  viewOf,
} from "./canary-view.js";
import { listJson, listTable, sortCanaries } from "./list-format.js";

const NOW = new Date("2030-01-01T12:00:00Z");
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1_000).toISOString();

function deployment(
  name: string,
  phase: string | undefined,
  extra: { namespace?: string; weight?: string; annotations?: Record<string, string> } = {},
): V1Deployment {
  return {
    metadata: {
      name,
      namespace: extra.namespace ?? "shop",
      labels: {
        "serin.dev/canary": "enabled",
        ...(phase ? { "serin.dev/phase": phase } : {}),
        ...(extra.weight ? { "serin.dev/weight": extra.weight } : {}),
      },
      annotations: {
        "serin.dev/steps": "10,50",
        "serin.dev/step-interval": "1m",
        ...extra.annotations,
      },
    },
  };
}

function split(state: Record<string, unknown> | undefined, message?: string): KubernetesObject {
  return {
    metadata: {
      name: "web",
      namespace: "shop",
      annotations: {
        ...(state ? { "serin.dev/state": JSON.stringify(state) } : {}),
        ...(message ? { "serin.dev/message": message } : {}),
      },
    },
  };
}

const live = () =>
  viewOf(
    deployment("web", "Progressing", {
      weight: "10",
      annotations: { "serin.dev/pending-revision": "abcdef0123" },
    }),
    split(
      {
        revision: "abcdef0123",
        step: 0,
        startedAt: ago(40),
        stepStartedAt: ago(20),
        failures: 1,
        lastAnalysisAt: ago(5),
        lastAnalysis: "fail",
      },
      "Check failed at 10% (1 of 2 tolerated): success-rate 97%, wanted success-rate>=99.",
    ),
    {
      kind: "TrafficSplit",
      name: "web",
      stableService: "web-stable",
      canaryService: "web-canary",
      stable: 9000,
      canary: 1000,
    },
  );

test("ages read as kubectl writes them", () => {
  assert.deepEqual(
    [5, 65, 3_600, 3_720, 90_000].map((seconds) => age(ago(seconds), NOW)),
    ["5s", "1m5s", "1h", "1h2m", "1d1h"],
  );
  assert.equal(age(undefined, NOW), "-");
});

test("the step's clock counts down from the step interval, and stops while the user pauses", () => {
  const view = live();
  assert.equal(stepClock(view, NOW), "20s held of 1m, 40s left");
  assert.ok(view.state);
  const paused = { ...view, phase: "Paused", state: { ...view.state, pausedAt: ago(10) } };
  assert.equal(stepClock(paused, NOW), "10s held of 1m, paused by the user 10s ago");
});

test("the bar marks the current step and fills as it is held", () => {
  assert.equal(progressBar(live(), NOW, 12), "[##----------] >10%<  50%");
  const promoting = { ...live(), phase: "Succeeded" };
  assert.equal(progressBar(promoting, NOW, 12), "[############] 10% ok  50% ok");
});

test("the live status shows the split, the checks, the events and the commands to act", () => {
  const events: EventView[] = [
    {
      at: ago(40),
      reason: "CanaryStarted",
      message: "Canary of revision abcdef0123 started",
      warning: false,
    },
    { at: ago(5), reason: "AnalysisFailed", message: "Check failed", warning: true },
  ];
  const text = describeStatus(
    deployment("web", "Progressing", {
      weight: "10",
      annotations: { "serin.dev/pending-revision": "abcdef0123", "serin.dev/analysis": "success-rate>=99" },
    }),
    split(
      {
        revision: "abcdef0123",
        step: 0,
        startedAt: ago(40),
        stepStartedAt: ago(20),
        failures: 1,
        lastAnalysisAt: ago(5),
        lastAnalysis: "fail",
      },
      "Check failed at 10%: success-rate 97%, wanted success-rate>=99.",
    ),
    {
      kind: "TrafficSplit",
      name: "web",
      stableService: "web-stable",
      canaryService: "web-canary",
      stable: 9000,
      canary: 1000,
    },
    { live: true, now: NOW, program: "kubectl serin" },
    events,
  );
  assert.equal(
    text,
    [
      "deployment: shop/web",
      "phase:      Progressing for 20s",
      "weight:     10% (step 1 of 2)",
      "pending:    abcdef0123",
      "message:    Check failed at 10%: success-rate 97%, wanted success-rate>=99.",
      "steps:      [####--------------------] >10%<  50%",
      "split:      TrafficSplit web: web-stable 90% (9000) · web-canary 10% (1000)",
      "step:       20s held of 1m, 40s left",
      "checks:     success-rate>=99: last fail 5s ago, 1 failed of 1 tolerated",
      "events:     11:59:20  CanaryStarted: Canary of revision abcdef0123 started",
      "            11:59:55  AnalysisFailed: Check failed",
      "act:        kubectl serin promote web -n shop   skip the remaining steps and promote",
      "            kubectl serin abort web -n shop     all traffic back to stable, then the canary is removed",
      "            kubectl serin pause web -n shop     hold at the current weight",
      "",
    ].join("\n"),
  );
});

test("an aborted canary offers retry; a succeeded one nothing", () => {
  const aborted = viewOf(
    deployment("web", "Aborted", { annotations: { "serin.dev/pending-revision": "abcdef0123" } }),
  );
  assert.deepEqual(actionCommands(aborted, "serin"), [
    ["serin retry web -n shop", "start the aborted revision's canary again"],
  ]);
  assert.deepEqual(actionCommands(viewOf(deployment("web", "Succeeded")), "serin"), []);
});

test("the list puts live canaries first, then by namespace and name", () => {
  const views = [
    viewOf(deployment("api", "Idle", { namespace: "b" })),
    viewOf(deployment("web", "Aborted", { namespace: "a" })),
    viewOf(deployment("zz", "Paused", { namespace: "z" })),
    viewOf(deployment("cart", "Progressing", { namespace: "z" })),
  ];
  assert.deepEqual(
    sortCanaries(views).map((view) => `${view.namespace}/${view.name}`),
    ["z/cart", "z/zz", "a/web", "b/api"],
  );
});

test("the table ages a settled phase by its latest transition Event, and says - when there is none", () => {
  const settled = viewOf(deployment("web", "Succeeded", { weight: "0" }), undefined, undefined, [
    { at: ago(400), reason: "Promoting", message: "", warning: false },
    { at: ago(300), reason: "Promoted", message: "", warning: false },
    { at: ago(100), reason: "ActionIgnored", message: "", warning: false },
  ]);
  const idle = viewOf(deployment("api", "Idle", { weight: "0" }));
  assert.equal(
    listTable([settled, idle, live()], NOW, false),
    [
      "NAMESPACE   NAME   PHASE         WEIGHT   STEP   REVISION     AGE   MESSAGE",
      "shop        web    Progressing   10%      1/2    abcdef0123   20s   Check failed at 10% (1 of 2 tolerated): success-rate 97%, wanted success-rate>=…",
      "shop        api    Idle          0%       -      -            -     -",
      "shop        web    Succeeded     0%       -      -            5m    -",
      "",
    ].join("\n"),
  );
  const [first] = (JSON.parse(listJson([live()])) as { canaries: Record<string, unknown>[] }).canaries;
  assert.deepEqual(first?.step, { number: 1, of: 2 });
  assert.deepEqual(first?.split, { kind: "TrafficSplit", name: "web", stable: 9000, canary: 1000 });
  assert.equal(first?.since, ago(20));
});
