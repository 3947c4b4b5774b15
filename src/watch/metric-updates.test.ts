import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Action } from "../plan/actions.js";
import { type CanaryView, metricUpdate, sampleOf } from "./metric-updates.js";

const enabled = { "serin.dev/canary": "enabled" };
const state = (fields: Record<string, unknown>) =>
  JSON.stringify({ revision: "1a2b3c4d5e", startedAt: "2030-01-01T12:00:00.000Z", failures: 0, ...fields });
const at = (iso: string) => new Date(iso);

describe("watcher metrics derived from a reconcile", () => {
  test("a canary holding its second step: phase, the split's weight in percent, step from 1, failed checks", () => {
    const view: CanaryView = {
      labels: { ...enabled, "serin.dev/phase": "Progressing", "serin.dev/weight": "25" },
      route: { canaryWeight: 2_500, annotations: { "serin.dev/state": state({ step: 1, failures: 2 }) } },
    };
    assert.deepEqual(sampleOf(view), { phase: "Progressing", weight: 25, step: 2, failedChecks: 2 });
  });

  test("fractional weights stay exact; settled phases report step 0 and no failed checks", () => {
    const progressing: CanaryView = {
      labels: { ...enabled, "serin.dev/phase": "Paused" },
      route: { canaryWeight: 10, annotations: { "serin.dev/state": state({ step: 0, failures: 1 }) } },
    };
    assert.deepEqual(sampleOf(progressing), { phase: "Paused", weight: 0.1, step: 1, failedChecks: 1 });
    const aborted: CanaryView = {
      labels: { ...enabled, "serin.dev/phase": "Aborted" },
      route: { canaryWeight: 0, annotations: { "serin.dev/state": state({ step: -1, failures: 3 }) } },
    };
    assert.deepEqual(sampleOf(aborted), { phase: "Aborted", weight: 0, step: 0, failedChecks: 0 });
    const idle: CanaryView = { labels: { ...enabled, "serin.dev/phase": "Initializing" } };
    assert.deepEqual(sampleOf(idle), { phase: "Initializing", weight: 0, step: 0, failedChecks: 0 });
  });

  test("series go when the Deployment is deleted or opts out, or has no phase yet; an unfinished reconcile keeps them", () => {
    assert.equal(metricUpdate({ after: "gone", performed: [] }).sample, null);
    const optedOut = { labels: { "serin.dev/phase": "Idle" } };
    assert.equal(metricUpdate({ after: optedOut, performed: [] }).sample, null);
    assert.equal(metricUpdate({ after: { labels: enabled }, performed: [] }).sample, null);
    assert.equal(metricUpdate({ performed: [] }).sample, undefined);
  });

  test("promotions and aborts are counted from the events told, aborts by cause", () => {
    const performed: { action: Action; at: Date }[] = [
      { action: { type: "writeRoute", canary: 0, annotations: {} }, at: at("2030-01-01T12:00:01Z") },
      {
        action: { type: "event", reason: "Aborted", message: "…", warning: true, abortCause: "analysis" },
        at: at("2030-01-01T12:00:01Z"),
      },
      { action: { type: "event", reason: "Promoted", message: "…" }, at: at("2030-01-01T12:00:02Z") },
      { action: { type: "event", reason: "WeightShifted", message: "…" }, at: at("2030-01-01T12:00:02Z") },
    ];
    const update = metricUpdate({ performed });
    assert.equal(update.promotions, 1);
    assert.deepEqual(update.aborts, ["analysis"]);
    assert.deepEqual(update.skewSeconds, []);
  });

  test("step skew: from when the step was due to when its split write completed, never below zero", () => {
    const due = "2030-01-01T12:01:00.000Z";
    const late = metricUpdate({
      performed: [
        {
          action: { type: "writeRoute", canary: 2_500, annotations: {}, dueAt: due },
          at: at("2030-01-01T12:01:00.750Z"),
        },
        { action: { type: "writeRoute", canary: 5_000, annotations: {} }, at: at("2030-01-01T12:01:02Z") },
      ],
    });
    assert.deepEqual(late.skewSeconds, [0.75], "only the write a schedule asked for is measured");
    const early = metricUpdate({
      performed: [
        {
          action: { type: "writeRoute", canary: 2_500, annotations: {}, dueAt: due },
          at: at("2030-01-01T12:00:59Z"),
        },
      ],
    });
    assert.deepEqual(early.skewSeconds, [0]);
  });
});
