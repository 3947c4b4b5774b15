import type { V1Deployment, V1PodTemplateSpec, V1Service } from "@kubernetes/client-node";
import { annotationsOf, isEnabled, phaseOf, templateOf } from "../contract/deployment.js";
import { formatDuration } from "../contract/duration.js";
import {
  MIRRORED_AS_LABELS,
  type Phase,
  StatusKey,
  type Action as UserAction,
  UserKey,
  WEIGHT_SCALE,
} from "../contract/keys.js";
import { templateRevision } from "../contract/revision.js";
import { type CanarySpec, describeError, parseCanarySpec, type SpecOptions } from "../contract/spec.js";
import type { Step } from "../contract/steps.js";
import type { Action, Plan } from "./actions.js";
import { analysisDueInMs, passedThisStep } from "./gates.js";
import { canaryRevisionOf } from "./objects.js";
import { rolloutOf } from "./readiness.js";
import { type CanaryState, elapsedMs, parseState, serializeState } from "./state.js";

/**
 * The canary lifecycle as one pure function: what the watcher read, and the time, in; the next
 * writes out. "Why did the weight go to 25 at 10:04?" is answered here and nowhere else.
 */

/** The verdict of the metric checks, or of the test gates, run for this reconcile (see gates.ts). */
export type GateVerdict =
  | { result: "pass" }
  | { result: "fail"; reason: string }
  | { result: "inconclusive"; reason: string };

export interface Observed {
  now: Date;
  deployment: V1Deployment;
  canary: V1Deployment | undefined;
  apexService: V1Service | undefined;
  /** The canary's share in the traffic split, out of 10000; undefined when there is no split. */
  canaryWeight: number | undefined;
  /** Metric checks run just now, because they were due. */
  analysis?: GateVerdict;
  /** Test gates called just now, at the end of the step. */
  tests?: GateVerdict;
  specOptions?: SpecOptions;
}

/** How often to look again while waiting for something no watch event announces (a deadline). */
const POLL_MS = 5_000;
const SERVICE_POLL_MS = 15_000;
const STATUS_KEYS = Object.values(StatusKey);

interface StatusChange {
  phase?: Phase;
  weight?: string;
  message?: string;
  state?: CanaryState | null;
  clearPending?: boolean;
  template?: V1PodTemplateSpec;
}

/** One guarded write of the annotations that differ (and the one-shot action, consumed), or nothing. */
function write(observed: Observed, change: StatusChange): Action[] {
  const current = annotationsOf(observed.deployment);
  const desired: Record<string, string | null> = {};
  if (change.phase) desired[StatusKey.phase] = change.phase;
  if (change.weight !== undefined) desired[StatusKey.weight] = change.weight;
  if (change.message !== undefined) desired[StatusKey.message] = change.message;
  if (change.state !== undefined) desired[StatusKey.state] = change.state && serializeState(change.state);
  if (change.clearPending) {
    desired[StatusKey.pendingTemplate] = null;
    desired[StatusKey.pendingRevision] = null;
  }
  desired[UserKey.action] = null;
  const changed = (now: Record<string, string>, wanted: Record<string, string | null>) =>
    Object.fromEntries(Object.entries(wanted).filter(([key, value]) => (now[key] ?? null) !== value));
  const annotations = changed(current, desired);
  const mirrored = Object.fromEntries(
    MIRRORED_AS_LABELS.filter((key) => key in desired).map((key) => [key, desired[key] ?? null]),
  );
  const labels = changed(observed.deployment.metadata?.labels ?? {}, mirrored);
  const anyLabels = Object.keys(labels).length > 0;
  if (Object.keys(annotations).length === 0 && !anyLabels && !change.template) return [];
  return [
    {
      type: "writeDeployment",
      annotations,
      ...(anyLabels ? { labels } : {}),
      ...(change.template ? { template: change.template } : {}),
    },
  ];
}

const event = (reason: string, message: string, warning = false): Action => ({
  type: "event",
  reason,
  message,
  ...(warning ? { warning } : {}),
});

/** The canary share at step i: a pause holds the weight of the step before it. */
function weightAt(steps: readonly Step[], index: number): { weight: number; text: string } {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const step = steps[i];
    if (step?.kind === "weight") return { weight: step.weight, text: step.text };
  }
  return { weight: 0, text: "0" };
}

function parsePendingTemplate(text: string | undefined): V1PodTemplateSpec | undefined {
  if (!text) return undefined;
  try {
    const template = JSON.parse(text) as V1PodTemplateSpec;
    return template && typeof template === "object" ? template : undefined;
  } catch {
    return undefined;
  }
}

function ignoreAction(observed: Observed, action: UserAction, why: string): Plan {
  return {
    actions: [...write(observed, {}), event("ActionIgnored", `${UserKey.action}=${action} ignored: ${why}.`)],
  };
}

export function plan(observed: Observed): Plan {
  const { deployment } = observed;
  if (!isEnabled(deployment)) return planOptOut(observed);

  const name = deployment.metadata?.name ?? "";
  const parsed = parseCanarySpec(deployment.metadata?.annotations, name, observed.specOptions);
  if (!parsed.ok) {
    const message = `Invalid annotations: ${parsed.errors.map(describeError).join(" | ")}`;
    const actions = write(observed, { message });
    return { actions: actions.length ? [...actions, event("InvalidAnnotations", message, true)] : [] };
  }
  const spec = parsed.spec;
  if (!observed.apexService) {
    const message = `Waiting for Service ${spec.service}, which the traffic split needs.`;
    return {
      actions: write(observed, { phase: phaseOf(deployment) ?? "Initializing", message }),
      requeueAfterMs: SERVICE_POLL_MS,
    };
  }

  const annotations = annotationsOf(deployment);
  const context: Context = {
    observed,
    spec,
    state: parseState(annotations[StatusKey.state]),
    pendingRevision: annotations[StatusKey.pendingRevision],
    pendingTemplate: parsePendingTemplate(annotations[StatusKey.pendingTemplate]),
    action: spec.action,
  };
  const phase = phaseOf(deployment);
  const inFlight =
    phase === "Pending" || phase === "Progressing" || phase === "Paused" || phase === "Promoting";
  return withServices(() => {
    if (inFlight && (!context.pendingRevision || !context.pendingTemplate)) {
      return settle(context, "Idle", "The pending template is missing or unreadable; nothing to canary.");
    }
    switch (phase) {
      case "Pending":
        return planPending(context);
      case "Progressing":
      case "Paused":
        return planSteps(context);
      case "Promoting":
        return planPromoting(context);
      case "Aborted":
        return planAborted(context);
      default:
        return planSteady(context, phase);
    }
  });
}

interface Context {
  observed: Observed;
  spec: CanarySpec;
  state: CanaryState | undefined;
  pendingRevision: string | undefined;
  pendingTemplate: V1PodTemplateSpec | undefined;
  action: UserAction | undefined;
}

/**
 * The track Services come before any split write that could send traffic to them. A plan that places
 * them itself (abort: stable 100% before anything else) keeps its order.
 */
function withServices(decide: () => Plan): Plan {
  const decided = decide();
  if (decided.actions.some((action) => action.type === "ensureServices")) return decided;
  return { ...decided, actions: [{ type: "ensureServices" }, ...decided.actions] };
}

/** Idle, Succeeded, or never seen: stable takes all traffic and no canary runs. */
function planSteady(context: Context, phase: Phase | undefined): Plan {
  const { observed, action } = context;
  if (action) return ignoreAction(observed, action, "no canary is in flight");
  const actions: Action[] = [];
  if (observed.canaryWeight !== 0) actions.push({ type: "setWeights", canary: 0 });
  if (observed.canary) actions.push({ type: "deleteCanary" });
  if (phase === undefined || phase === "Initializing") {
    actions.push(
      ...write(observed, {
        phase: "Idle",
        weight: "0",
        message: "Ready: stable takes all traffic; the next change of the pod template starts a canary.",
      }),
      event("Initialized", `Traffic split on Service ${context.spec.service} ready; stable at 100%.`),
    );
  }
  return { actions };
}

/** Back to a steady phase with all traffic on stable and no canary. */
function settle(context: Context, phase: Phase, message: string): Plan {
  return {
    actions: [
      { type: "setWeights", canary: 0 },
      ...(context.observed.canary ? [{ type: "deleteCanary" } as const] : []),
      ...write(context.observed, { phase, weight: "0", message, state: null, clearPending: true }),
    ],
  };
}

/** Abort: the split goes to stable 100% before anything else is touched. */
function abort(context: Context, reason: string): Plan {
  const { observed, state } = context;
  const message = `Aborted revision ${context.pendingRevision}: ${reason}`;
  return {
    actions: [
      { type: "setWeights", canary: 0 },
      { type: "ensureServices" },
      { type: "deleteCanary" },
      ...write(observed, {
        phase: "Aborted",
        weight: "0",
        message,
        ...(state ? { state: { ...state, step: -1 } } : {}),
      }),
      event("Aborted", message, true),
    ],
  };
}

/** A fresh start for the pending revision: traffic off the old canary, the canary re-pointed, steps from the first. */
function start(context: Context, reason: string, eventReason: string): Plan {
  const { observed, pendingRevision = "", pendingTemplate } = context;
  const state: CanaryState = {
    revision: pendingRevision,
    step: -1,
    startedAt: observed.now.toISOString(),
    failures: 0,
  };
  const message = `${reason}; waiting for ${observed.deployment.metadata?.name}-canary to become ready.`;
  return {
    actions: [
      { type: "setWeights", canary: 0 },
      ...(pendingTemplate
        ? [{ type: "applyCanary", template: pendingTemplate, revision: pendingRevision } as const]
        : []),
      ...write(observed, { phase: "Pending", weight: "0", message, state }),
      event(eventReason, `${reason}.`),
    ],
    requeueAfterMs: Math.min(POLL_MS, context.spec.progressDeadlineMs),
  };
}

function planPending(context: Context): Plan {
  const { observed, spec, state, action, pendingRevision = "", pendingTemplate } = context;
  if (!state || state.revision !== pendingRevision) {
    return start(context, `Canary of revision ${pendingRevision} started`, "CanaryStarted");
  }
  if (action === "abort") return abort(context, "aborted by the user before the canary was ready.");
  if (action && action !== "promote") return ignoreAction(observed, action, "the canary is not ready yet");

  const canaryApply: Action[] = pendingTemplate
    ? [{ type: "applyCanary", template: pendingTemplate, revision: pendingRevision }]
    : [];
  const rollout =
    canaryRevisionOf(observed.canary) === pendingRevision ? rolloutOf(observed.canary) : undefined;
  if (rollout?.state === "failed") return abort(context, `the canary failed to roll out: ${rollout.reason}.`);
  if (rollout?.state === "complete") {
    if (action === "promote") return promote(context, "promoted by the user");
    return enterStep(context, 0, canaryApply);
  }
  const waited = elapsedMs(state.startedAt, observed.now);
  if (waited >= spec.progressDeadlineMs) {
    const why = rollout ? rollout.reason : "it was not created";
    return abort(
      context,
      `the canary did not become ready within the progress deadline of ${formatDuration(spec.progressDeadlineMs)} (${why}).`,
    );
  }
  return {
    actions: canaryApply,
    requeueAfterMs: Math.min(POLL_MS, spec.progressDeadlineMs - waited),
  };
}

/** Hold step `index`: write its weight, start its clock. */
function enterStep(context: Context, index: number, before: Action[] = []): Plan {
  const { observed, spec, state } = context;
  const steps = spec.steps;
  const step = steps[index];
  const { weight, text } = weightAt(steps, index);
  const now = observed.now.toISOString();
  const next: CanaryState = {
    revision: context.pendingRevision ?? "",
    startedAt: state?.startedAt ?? now,
    step: index,
    stepStartedAt: now,
    // Failed checks are counted while consecutive, across steps.
    failures: state?.failures ?? 0,
  };
  const where = `step ${index + 1} of ${steps.length}`;
  if (step?.kind === "pause") {
    const message = `Paused at ${where} (a pause step) with the canary at ${text}%; set ${UserKey.action}=resume or promote.`;
    return {
      actions: [
        ...before,
        { type: "setWeights", canary: weight },
        ...write(observed, { phase: "Paused", weight: text, message, state: next }),
        event("Paused", message),
      ],
    };
  }
  const message = `Canary weight ${text}% (${where}); held for ${formatDuration(spec.stepIntervalMs)}.`;
  return {
    actions: [
      ...before,
      { type: "setWeights", canary: weight },
      ...write(observed, { phase: "Progressing", weight: text, message, state: next }),
      event("WeightShifted", message),
    ],
    requeueAfterMs: Math.min(
      spec.stepIntervalMs,
      spec.analysis.length > 0 ? spec.analysisIntervalMs : Number.POSITIVE_INFINITY,
    ),
  };
}

function planSteps(context: Context): Plan {
  const { observed, spec, action, pendingRevision = "", pendingTemplate } = context;
  const state = context.state;
  if (!state || state.revision !== pendingRevision || state.step < 0) {
    return start(context, `Canary of revision ${pendingRevision} restarted`, "CanaryStarted");
  }
  const steps = spec.steps;
  const index = Math.min(state.step, steps.length - 1);
  const step = steps[index];
  const { weight, text } = weightAt(steps, index);
  const now = observed.now;

  switch (action) {
    case "abort":
      return abort(context, `aborted by the user at ${text}%.`);
    case "promote":
      return promote(context, "promoted by the user");
    case "retry":
      return ignoreAction(observed, action, "the canary is still in flight");
    case "pause": {
      if (state.pausedAt || step?.kind === "pause")
        return ignoreAction(observed, action, "the canary is already paused");
      const message = `Paused by the user at ${text}%; set ${UserKey.action}=resume to carry on.`;
      return {
        actions: [
          ...write(observed, { phase: "Paused", message, state: { ...state, pausedAt: now.toISOString() } }),
          event("Paused", message),
        ],
      };
    }
    case "resume": {
      if (step?.kind === "pause" && !state.pausedAt) return nextStep(context, index);
      if (!state.pausedAt) return ignoreAction(observed, action, "the canary is not paused");
      // The step keeps the hold time it had left when it was paused.
      const shifted = new Date(
        Date.parse(state.stepStartedAt ?? now.toISOString()) + elapsedMs(state.pausedAt, now),
      );
      const { pausedAt: _resumed, ...running } = state;
      const resumed: CanaryState = { ...running, stepStartedAt: shifted.toISOString() };
      const message = `Resumed by the user at ${text}%.`;
      return {
        actions: [
          ...write(observed, { phase: "Progressing", message, state: resumed }),
          event("Resumed", message),
        ],
        requeueAfterMs: Math.max(0, spec.stepIntervalMs - elapsedMs(resumed.stepStartedAt, now)),
      };
    }
    default:
      break;
  }

  const canaryApply: Action[] = pendingTemplate
    ? [{ type: "applyCanary", template: pendingTemplate, revision: pendingRevision }]
    : [];
  const rollout = rolloutOf(observed.canary);
  if (rollout.state === "failed") return abort(context, `the canary failed: ${rollout.reason}.`);
  // The weight in force is repaired on every pass: someone may have edited the split.
  const hold: Action[] = [...canaryApply, { type: "setWeights", canary: weight }];
  if (state.pausedAt || step?.kind === "pause")
    return { actions: [...hold, ...write(observed, { phase: "Paused" })] };

  // Checks that ran just now are recorded; failures count towards the limit, a pass clears them.
  let current = state;
  const analysis = observed.analysis;
  if (analysis) {
    current = { ...current, lastAnalysisAt: now.toISOString(), lastAnalysis: analysis.result };
    if (analysis.result === "fail") {
      const failures = current.failures + 1;
      if (failures > spec.failureLimit)
        return abort(context, `checks failed at ${text}%: ${analysis.reason}.`);
      const message = `Check failed at ${text}% (${failures} of ${spec.failureLimit} tolerated): ${analysis.reason}.`;
      return {
        actions: [
          ...hold,
          ...write(observed, { message, state: { ...current, failures } }),
          event("AnalysisFailed", message, true),
        ],
        requeueAfterMs: spec.analysisIntervalMs,
      };
    }
    if (analysis.result === "pass") current = { ...current, failures: 0 };
  }
  const nextCheckMs = analysisDueInMs(spec, current, now);

  const held = elapsedMs(current.stepStartedAt, now);
  if (held < spec.stepIntervalMs) {
    return {
      actions: [...hold, ...write(observed, { phase: "Progressing", state: current })],
      requeueAfterMs: Math.min(spec.stepIntervalMs - held, nextCheckMs),
    };
  }
  if (rollout.state !== "complete") {
    return {
      actions: [
        ...hold,
        ...write(observed, {
          message: `Holding at ${text}%: the canary is not ready (${rollout.reason}).`,
          state: current,
        }),
      ],
      requeueAfterMs: POLL_MS,
    };
  }
  if (spec.analysis.length > 0 && !passedThisStep(current)) {
    // No data yet is inconclusive: the step waits for a passing check rather than failing. Between
    // checks the message keeps the reason the last one gave.
    const message = analysis
      ? `Holding at ${text}%: ${analysis.result === "inconclusive" ? analysis.reason : "waiting for a passing check"}.`
      : undefined;
    return {
      actions: [...hold, ...write(observed, { ...(message ? { message } : {}), state: current })],
      requeueAfterMs: nextCheckMs,
    };
  }
  if (spec.tests.length > 0) {
    if (!observed.tests)
      return { actions: [...hold, ...write(observed, { state: current })], requeueAfterMs: POLL_MS };
    if (observed.tests.result !== "pass") {
      const reason = observed.tests.result === "fail" ? observed.tests.reason : "test gates inconclusive";
      return abort({ ...context, state: current }, `${reason} at ${text}%.`);
    }
  }
  return nextStep({ ...context, state: current }, index);
}

function nextStep(context: Context, index: number): Plan {
  if (index + 1 >= context.spec.steps.length) return promote(context, "every step passed");
  return enterStep(context, index + 1);
}

/** Promotion, first write: all traffic to the canary, then the pending template onto the Deployment. */
function promote(context: Context, why: string): Plan {
  const { observed, pendingRevision, pendingTemplate } = context;
  if (!pendingTemplate)
    return settle(context, "Idle", "The pending template is missing; nothing to promote.");
  const message = `Promoting revision ${pendingRevision} (${why}): canary at 100% while the Deployment rolls out.`;
  return {
    actions: [
      { type: "setWeights", canary: WEIGHT_SCALE },
      ...write(observed, { phase: "Promoting", weight: "100", message, template: pendingTemplate }),
      event("Promoting", message),
    ],
    requeueAfterMs: POLL_MS,
  };
}

function planPromoting(context: Context): Plan {
  const { observed, action, pendingRevision } = context;
  const copied = templateRevision(templateOf(observed.deployment)) === pendingRevision;
  if (!copied) {
    if (action === "abort") return abort(context, "aborted by the user during promotion.");
    return promote(context, "promotion resumed");
  }
  if (action) return ignoreAction(observed, action, "the promotion is already under way");
  const rollout = rolloutOf(observed.deployment);
  if (rollout.state !== "complete") {
    return {
      actions: [
        { type: "setWeights", canary: WEIGHT_SCALE },
        ...write(observed, {
          message: `Promoting revision ${pendingRevision}: waiting for the Deployment to roll out (${rollout.reason}).`,
        }),
      ],
      requeueAfterMs: POLL_MS,
    };
  }
  const message = `Revision ${pendingRevision} promoted: the Deployment runs it and stable takes all traffic.`;
  return {
    actions: [
      { type: "setWeights", canary: 0 },
      { type: "deleteCanary" },
      ...write(observed, { phase: "Succeeded", weight: "0", message, state: null, clearPending: true }),
      event("Promoted", message),
    ],
  };
}

function planAborted(context: Context): Plan {
  const { observed, action, pendingRevision } = context;
  if (action === "retry") {
    if (!pendingRevision) return ignoreAction(observed, action, "there is no revision to retry");
    return start(context, `Canary of revision ${pendingRevision} retried`, "CanaryRetried");
  }
  if (action)
    return ignoreAction(observed, action, "the canary was aborted; change the pod template or retry");
  // Level-triggered clean-up: a canary or canary traffic left over from an interrupted abort goes.
  const actions: Action[] = [];
  if (observed.canaryWeight !== 0) actions.push({ type: "setWeights", canary: 0 });
  if (observed.canary) actions.push({ type: "deleteCanary" });
  return { actions };
}

/** The label was removed: stable 100%, then the canary, the split, the track Services and the status go. */
function planOptOut(observed: Observed): Plan {
  const current = annotationsOf(observed.deployment);
  const currentLabels = observed.deployment.metadata?.labels ?? {};
  const mirrors = MIRRORED_AS_LABELS.filter((key) => Object.hasOwn(currentLabels, key));
  const hasStatus = STATUS_KEYS.some((key) => Object.hasOwn(current, key)) || mirrors.length > 0;
  if (!hasStatus && !observed.canary && observed.canaryWeight === undefined) return { actions: [] };
  const actions: Action[] = [];
  if (observed.canaryWeight !== undefined) actions.push({ type: "setWeights", canary: 0 });
  actions.push({ type: "deleteCanary" }, { type: "removeRouting" });
  if (hasStatus) {
    actions.push({
      type: "writeDeployment",
      annotations: Object.fromEntries(
        STATUS_KEYS.filter((key) => Object.hasOwn(current, key)).map((key) => [key, null]),
      ),
      ...(mirrors.length > 0 ? { labels: Object.fromEntries(mirrors.map((key) => [key, null])) } : {}),
    });
    actions.push(
      event("Disabled", "serin.dev/canary label removed: canary, traffic split and track Services removed."),
    );
  }
  return { actions };
}
