import type { V1Deployment, V1PodTemplateSpec, V1Service } from "@kubernetes/client-node";
import {
  annotationsOf,
  apexServiceOf,
  isEnabled,
  labelsOf,
  phaseOf,
  templateOf,
} from "../contract/deployment.js";
import { formatDuration } from "../contract/duration.js";
import {
  LEGACY_DEPLOYMENT_ANNOTATIONS,
  PendingKey,
  type Phase,
  RouteKey,
  StatusLabel,
  type Action as UserAction,
  UserKey,
  WEIGHT_SCALE,
} from "../contract/keys.js";
import { templateRevision } from "../contract/revision.js";
import { type CanarySpec, describeError, parseCanarySpec, type SpecOptions } from "../contract/spec.js";
import type { Step } from "../contract/steps.js";
import type { AbortCause, Action, Plan } from "./actions.js";
import {
  analysisDueInMs,
  forThisStep,
  type GateOutcome,
  type GateVerdict,
  passedThisStep,
  ticketOf,
} from "./gates.js";
import { canaryRevisionOf } from "./objects.js";
import { rolloutOf } from "./readiness.js";
import { type CanaryState, elapsedMs, parseState, serializeState } from "./state.js";

/**
 * The canary lifecycle as one pure function: what the watcher read, and the time, in; the next
 * writes out. "Why did the weight go to 25 at 10:04?" is answered here and nowhere else.
 *
 * Where things live: the phase and the weight are labels of the Deployment (labels neither bump its
 * generation nor are copied into its ReplicaSets); the webhook leaves the held-back template and its
 * revision as annotations of the Deployment; everything else (the step, its clock, the failure count,
 * the message and the template in flight) is annotations of the traffic split serin owns, written
 * together with the weights in one request.
 */

export type { GateVerdict } from "./gates.js";

/** The traffic split as the watcher's cache holds it. */
export interface ObservedRoute {
  /** The canary's share, out of 10000. */
  canaryWeight: number;
  annotations: Record<string, string>;
}

export interface Observed {
  now: Date;
  deployment: V1Deployment;
  canary: V1Deployment | undefined;
  apexService: V1Service | undefined;
  /** The traffic split; undefined when there is none. */
  route: ObservedRoute | undefined;
  /** The last finished metric-check and test-gate jobs of this Deployment (any step: the planner matches). */
  checks?: GateOutcome;
  tests?: GateOutcome;
  /** Gate jobs of this Deployment still running. */
  running?: { checks: boolean; tests: boolean };
  /**
   * An object serin would create or change that belongs to someone else, e.g. "Service shop/web-stable";
   * `route` when it is the traffic split itself.
   */
  collision?: { what: string; route: boolean };
  specOptions?: SpecOptions;
}

/** How often to look again while waiting for something no watch event announces (a deadline). */
const POLL_MS = 5_000;
const SERVICE_POLL_MS = 15_000;

/** What one decision changes: the split (weights, bookkeeping) and the Deployment (labels, template). */
interface Change {
  /** The canary's share to write into the split. */
  canary?: number;
  phase?: Phase;
  weight?: string;
  message?: string;
  state?: CanaryState | null;
  /** The template in flight, kept on the split; null drops it. */
  routeTemplate?: V1PodTemplateSpec | null;
  /** The pending revision is done with (promoted, settled, lost): its annotations go. */
  clearPending?: boolean;
  /** Promotion: the pending template onto the Deployment. */
  template?: V1PodTemplateSpec;
}

const changedEntries = (now: Record<string, string>, wanted: Record<string, string | null>) =>
  Object.fromEntries(Object.entries(wanted).filter(([key, value]) => (now[key] ?? null) !== value));

/** One write of the split when its weights or serin's annotations on it differ, or nothing. */
function routeWrite(observed: Observed, change: Change): Action[] {
  const route = observed.route;
  const desired: Record<string, string | null> = {};
  if (change.message !== undefined) desired[RouteKey.message] = change.message;
  // The state carries the phase it was written with (see CanaryState.phase).
  const state = change.state === undefined ? parseState(route?.annotations[RouteKey.state]) : change.state;
  if (state && change.phase && state.phase !== change.phase)
    desired[RouteKey.state] = serializeState({ ...state, phase: change.phase });
  else if (change.state !== undefined) desired[RouteKey.state] = change.state && serializeState(change.state);
  if (change.routeTemplate !== undefined)
    desired[RouteKey.template] = change.routeTemplate && JSON.stringify(change.routeTemplate);
  const annotations = changedEntries(route?.annotations ?? {}, desired);
  const canary = change.canary ?? route?.canaryWeight ?? 0;
  if (route && route.canaryWeight === canary && Object.keys(annotations).length === 0) return [];
  return [{ type: "writeRoute", canary, annotations }];
}

/**
 * One guarded write of the Deployment's labels and annotations that differ (the one-shot action
 * consumed, the template removed once the split holds it, old status annotations removed), or nothing.
 */
function deploymentWrite(observed: Observed, change: Change, templateTakenOver = false): Action[] {
  const { deployment } = observed;
  const current = annotationsOf(deployment);
  const wantedAnnotations: Record<string, string | null> = { [UserKey.action]: null };
  for (const key of LEGACY_DEPLOYMENT_ANNOTATIONS) wantedAnnotations[key] = null;
  if (change.clearPending) {
    wantedAnnotations[PendingKey.template] = null;
    wantedAnnotations[PendingKey.revision] = null;
  } else if (templateTakenOver || routeHoldsPending(observed)) {
    wantedAnnotations[PendingKey.template] = null;
  }
  const wantedLabels: Record<string, string | null> = {};
  if (change.phase) wantedLabels[StatusLabel.phase] = change.phase;
  if (change.weight !== undefined) wantedLabels[StatusLabel.weight] = change.weight;
  const annotations = changedEntries(current, wantedAnnotations);
  const labels = changedEntries(labelsOf(deployment), wantedLabels);
  if (Object.keys(annotations).length === 0 && Object.keys(labels).length === 0 && !change.template)
    return [];
  return [
    {
      type: "writeDeployment",
      annotations,
      labels,
      ...(change.template ? { template: change.template } : {}),
    },
  ];
}

/** Both writes of a decision, the split first (traffic before bookkeeping). */
function write(observed: Observed, change: Change, templateTakenOver = false): Action[] {
  return [...routeWrite(observed, change), ...deploymentWrite(observed, change, templateTakenOver)];
}

const event = (reason: string, message: string, warning = false): Action => ({
  type: "event",
  reason,
  message,
  ...(warning ? { warning } : {}),
});

const aborted = (cause: AbortCause, message: string): Action => ({
  type: "event",
  reason: "Aborted",
  message,
  warning: true,
  abortCause: cause,
});

/** The canary share at step i: a pause holds the weight of the step before it. */
function weightAt(steps: readonly Step[], index: number): { weight: number; text: string } {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const step = steps[i];
    if (step?.kind === "weight") return { weight: step.weight, text: weightLabel(step.weight) };
  }
  return { weight: 0, text: "0" };
}

function parseTemplate(text: string | undefined): V1PodTemplateSpec | undefined {
  if (!text) return undefined;
  try {
    const template = JSON.parse(text) as V1PodTemplateSpec;
    return template && typeof template === "object" ? template : undefined;
  } catch {
    return undefined;
  }
}

/** The split holds the template of the pending revision (checked by its hash, not trusted by name). */
function routeHoldsPending(observed: Observed): boolean {
  const revision = annotationsOf(observed.deployment)[PendingKey.revision];
  const held = parseTemplate(observed.route?.annotations[RouteKey.template]);
  return revision !== undefined && held !== undefined && templateRevision(held) === revision;
}

/**
 * The template of the pending revision: the webhook's copy on the Deployment while it is there, else
 * the one the split holds once the watcher has taken it over. Either must hash to the pending revision.
 */
function pendingTemplateOf(observed: Observed, revision: string | undefined): V1PodTemplateSpec | undefined {
  if (!revision) return undefined;
  for (const text of [
    annotationsOf(observed.deployment)[PendingKey.template],
    observed.route?.annotations[RouteKey.template],
  ]) {
    const template = parseTemplate(text);
    if (template && templateRevision(template) === revision) return template;
  }
  return undefined;
}

function ignoreAction(observed: Observed, action: UserAction, why: string): Plan {
  return {
    actions: [
      ...deploymentWrite(observed, {}),
      event("ActionIgnored", `${UserKey.action}=${action} ignored: ${why}.`),
    ],
  };
}

export function plan(observed: Observed): Plan {
  const { deployment } = observed;
  if (!isEnabled(deployment)) return planOptOut(observed);

  const name = deployment.metadata?.name ?? "";
  // The namespace decides which test-gate hosts are cluster-local, as the webhook judged them.
  const parsed = parseCanarySpec(deployment.metadata?.annotations, name, {
    ...observed.specOptions,
    namespace: deployment.metadata?.namespace ?? "",
  });
  if (!parsed.ok) {
    const message = `Invalid annotations: ${parsed.errors.map(describeError).join(" | ")}`;
    // Said once: the message on the split tells whether it was said already.
    if (observed.route && observed.route.annotations[RouteKey.message] === message) return { actions: [] };
    return {
      actions: [
        ...(observed.route ? routeWrite(observed, { message }) : []),
        event("InvalidAnnotations", message, true),
      ],
    };
  }
  const spec = parsed.spec;
  if (!observed.apexService) {
    const phase = phaseOf(deployment);
    if (phase !== undefined && phase !== "Initializing") {
      // The apex Service went away under a running canary or an idle split: wait for it, change nothing.
      return { actions: [], requeueAfterMs: SERVICE_POLL_MS };
    }
    const message = `Waiting for Service ${spec.service}, which the traffic split needs.`;
    const actions = deploymentWrite(observed, { phase: "Initializing" });
    return {
      actions:
        actions.length > 0 || phase === undefined ? [...actions, event("ServiceMissing", message, true)] : [],
      requeueAfterMs: SERVICE_POLL_MS,
    };
  }

  const annotations = annotationsOf(deployment);
  const pendingRevision = annotations[PendingKey.revision];
  const context: Context = {
    observed,
    spec,
    state: parseState(observed.route?.annotations[RouteKey.state]),
    pendingRevision,
    pendingTemplate: pendingTemplateOf(observed, pendingRevision),
    action: spec.action,
  };
  const phase = effectivePhase(phaseOf(deployment), context.state, pendingRevision);
  if (observed.collision) return collision(context, phase, observed.collision);
  const inFlight =
    phase === "Pending" || phase === "Progressing" || phase === "Paused" || phase === "Promoting";
  const decided = eventsAfterTraffic(
    withServices(() => {
      // Without its split a running canary has lost its progress. (Pending has none yet: it starts again.)
      if ((phase === "Progressing" || phase === "Paused") && !observed.route) return lostSplit(context);
      // Once the template is on the Deployment, a promotion needs no other copy of it: the split's is
      // dropped in the same decision that ends the promotion, and that decision may be retried.
      const promoted =
        phase === "Promoting" && templateRevision(templateOf(deployment)) === context.pendingRevision;
      if (inFlight && !promoted && (!context.pendingRevision || !context.pendingTemplate)) {
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
    }),
  );
  return mirrorPhase(observed, phase, decided);
}

/**
 * The phase label follows the phase the split records: when the label's own write lost a race, a later
 * reconcile puts it right (labels only: a one-shot action still waiting is not consumed).
 */
function mirrorPhase(observed: Observed, phase: Phase | undefined, decided: Plan): Plan {
  if (!phase) return decided;
  const labels = labelsOf(observed.deployment);
  const wanted: Record<string, string> = { [StatusLabel.phase]: phase };
  // Settled phases carry no canary traffic; a canary in flight shows the weight its split carries (a
  // label write that lost a race is put right here, not only at the next step).
  if (phase === "Aborted" || phase === "Succeeded" || phase === "Idle") wanted[StatusLabel.weight] = "0";
  else if ((phase === "Progressing" || phase === "Paused") && observed.route)
    wanted[StatusLabel.weight] = weightLabel(observed.route.canaryWeight);
  const written = decided.actions.filter((action) => action.type === "writeDeployment");
  const missing = Object.fromEntries(
    Object.entries(wanted).filter(
      ([key, value]) =>
        labels[key] !== value &&
        !written.some((action) => action.type === "writeDeployment" && key in action.labels),
    ),
  );
  if (Object.keys(missing).length === 0) return decided;
  const mirror: Action = { type: "writeDeployment", annotations: {}, labels: missing };
  return { ...decided, actions: [...decided.actions, mirror] };
}

/** A split weight (out of 10,000) as the weight label writes it: percent, e.g. "0.1", "12.5". */
function weightLabel(canaryWeight: number): string {
  return String(canaryWeight / 100);
}

/**
 * Where the canary is. The split is written first in every decision: when the Deployment's label lags
 * (its write lost a race and is retried), the state on the split says the phase. A new revision the
 * webhook marked Pending, which the split has not seen, is Pending.
 */
function effectivePhase(
  label: Phase | undefined,
  state: CanaryState | undefined,
  pendingRevision: string | undefined,
): Phase | undefined {
  if (label === "Pending" && state?.revision !== pendingRevision) return label;
  if (state?.phase && state.revision === pendingRevision) return state.phase;
  return label;
}

/**
 * Events go right after the split's write, the point at which a decision has taken effect: a later
 * write that loses a race is decided again, and the event is not told twice.
 */
function eventsAfterTraffic(decided: Plan): Plan {
  const index = decided.actions.findIndex((action) => action.type === "writeRoute");
  if (index === -1) return decided;
  const events = decided.actions.filter((action) => action.type === "event");
  const rest = decided.actions.filter((action) => action.type !== "event");
  const at = rest.findIndex((action) => action.type === "writeRoute") + 1;
  return { ...decided, actions: [...rest.slice(0, at), ...events, ...rest.slice(at)] };
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

/**
 * Someone else's object stands where serin would put one of its own: nothing is written to it. A canary
 * in flight is aborted (traffic back to stable, unless the split is the object in the way); otherwise
 * the Deployment waits in Initializing, saying which object and why.
 */
function collision(
  context: Context,
  phase: Phase | undefined,
  found: { what: string; route: boolean },
): Plan {
  const { observed } = context;
  const message = `${found.what} exists and is not serin's: serin will not change or delete it. Rename or remove it, or set ${UserKey.service}.`;
  const ours = observed.route && !found.route;
  const said = ours ? observed.route?.annotations[RouteKey.message] === message : false;
  const inFlight = phase === "Pending" || phase === "Progressing" || phase === "Paused";
  const next: Phase = inFlight || phase === "Aborted" ? "Aborted" : "Initializing";
  const actions: Action[] = [
    ...(ours ? routeWrite(observed, { canary: 0, phase: next, message }) : []),
    { type: "deleteCanary" },
    ...deploymentWrite(observed, { phase: next, ...(inFlight ? { weight: "0" } : {}) }),
  ];
  // Said once: when the phase changes, or when the message on serin's split differs.
  if (!said && (inFlight || actions.some((action) => action.type !== "deleteCanary"))) {
    actions.push(inFlight ? aborted("name-collision", message) : event("NameCollision", message, true));
  }
  return { actions, requeueAfterMs: SERVICE_POLL_MS };
}

/** Idle, Succeeded, or never seen: stable takes all traffic and no canary runs. */
function planSteady(context: Context, phase: Phase | undefined): Plan {
  const { observed, action } = context;
  if (action) return ignoreAction(observed, action, "no canary is in flight");
  const actions: Action[] = [];
  if (phase === undefined || phase === "Initializing") {
    const message = "Ready: stable takes all traffic; the next change of the pod template starts a canary.";
    const said = observed.route?.annotations[RouteKey.message] === message;
    actions.push(
      ...routeWrite(observed, { canary: 0, message }),
      ...(said
        ? []
        : [event("Initialized", `Traffic split on Service ${context.spec.service} ready; stable at 100%.`)]),
      ...(observed.canary ? [{ type: "deleteCanary" } as const] : []),
      ...deploymentWrite(observed, { phase: "Idle", weight: "0" }),
    );
    return { actions };
  }
  actions.push(...routeWrite(observed, { canary: 0 }));
  if (observed.canary) actions.push({ type: "deleteCanary" });
  actions.push(...deploymentWrite(observed, {}));
  return { actions };
}

/** Back to a steady phase with all traffic on stable and no canary. */
function settle(context: Context, phase: Phase, message: string): Plan {
  return {
    actions: [
      ...routeWrite(context.observed, { canary: 0, message, state: null, routeTemplate: null }),
      ...(context.observed.canary ? [{ type: "deleteCanary" } as const] : []),
      ...deploymentWrite(context.observed, { phase, weight: "0", clearPending: true }),
    ],
  };
}

/**
 * The split was deleted while a canary was in flight, and with it the canary's progress and the
 * template in flight: traffic is sent back to stable (a new split at 100%), the canary goes, and the
 * revision is let go, so that applying the Deployment again starts it afresh.
 */
function lostSplit(context: Context): Plan {
  const { observed, pendingRevision } = context;
  const message = `Aborted revision ${pendingRevision}: the traffic split ${context.spec.service} was deleted while the canary was in flight, and with it its progress; all traffic is on stable. Apply the Deployment again to restart the canary.`;
  return {
    actions: [
      { type: "ensureServices" },
      ...routeWrite(observed, { canary: 0, message }),
      { type: "deleteCanary" },
      ...deploymentWrite(observed, { phase: "Aborted", weight: "0", clearPending: true }),
      aborted("split-deleted", message),
    ],
  };
}

/** Abort: the split goes to stable 100% before anything else is touched. */
function abort(context: Context, cause: AbortCause, reason: string, prefixed = true): Plan {
  const { observed, state } = context;
  const message = prefixed ? `Aborted revision ${context.pendingRevision}: ${reason}` : reason;
  return {
    actions: [
      ...routeWrite(observed, {
        canary: 0,
        phase: "Aborted",
        message,
        ...(state ? { state: { ...state, step: -1 } } : {}),
        ...(context.pendingTemplate ? { routeTemplate: context.pendingTemplate } : {}),
      }),
      { type: "ensureServices" },
      { type: "deleteCanary" },
      ...deploymentWrite(observed, { phase: "Aborted", weight: "0" }, context.pendingTemplate !== undefined),
      aborted(cause, message),
    ],
  };
}

/** A fresh start for the pending revision: traffic off the old canary, the canary re-pointed, steps from the first. */
function start(context: Context, reason: string, eventReason: string): Plan {
  const { observed, pendingRevision = "", pendingTemplate } = context;
  const state: CanaryState = {
    phase: "Pending",
    revision: pendingRevision,
    step: -1,
    startedAt: observed.now.toISOString(),
    failures: 0,
  };
  const message = `${reason}; waiting for ${observed.deployment.metadata?.name}-canary to become ready.`;
  return {
    actions: [
      // The template moves onto the split with the bookkeeping, before it leaves the Deployment.
      ...routeWrite(observed, {
        canary: 0,
        message,
        state,
        ...(pendingTemplate ? { routeTemplate: pendingTemplate } : {}),
      }),
      ...(pendingTemplate
        ? [{ type: "applyCanary", template: pendingTemplate, revision: pendingRevision } as const]
        : []),
      ...deploymentWrite(observed, { phase: "Pending", weight: "0" }, pendingTemplate !== undefined),
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
  if (action === "abort") return abort(context, "user", "aborted by the user before the canary was ready.");
  if (action && action !== "promote") return ignoreAction(observed, action, "the canary is not ready yet");

  const canaryApply: Action[] = pendingTemplate
    ? [{ type: "applyCanary", template: pendingTemplate, revision: pendingRevision }]
    : [];
  const rollout =
    canaryRevisionOf(observed.canary) === pendingRevision ? rolloutOf(observed.canary) : undefined;
  if (rollout?.state === "failed")
    return abort(context, "canary-failed", `the canary failed to roll out: ${rollout.reason}.`);
  if (rollout?.state === "complete") {
    if (action === "promote") return promote(context, "promoted by the user");
    return enterStep(context, 0, canaryApply);
  }
  const waited = elapsedMs(state.startedAt, observed.now);
  if (waited >= spec.progressDeadlineMs) {
    const why = rollout ? rollout.reason : "it was not created";
    return abort(
      context,
      "progress-deadline",
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
        ...write(observed, { canary: weight, phase: "Paused", weight: text, message, state: next }),
        event("Paused", message),
      ],
    };
  }
  const message = `Canary weight ${text}% (${where}); held for ${formatDuration(spec.stepIntervalMs)}.`;
  return {
    actions: [
      ...before,
      ...write(observed, { canary: weight, phase: "Progressing", weight: text, message, state: next }),
      event("WeightShifted", message),
    ],
    requeueAfterMs: Math.min(
      spec.stepIntervalMs,
      spec.analysis.length > 0 ? spec.analysisIntervalMs : Number.POSITIVE_INFINITY,
    ),
  };
}

/** A metric-check outcome of this step not yet recorded in the state. */
function newChecks(observed: Observed, state: CanaryState): GateVerdict | undefined {
  const outcome = forThisStep(observed.checks, state);
  if (!outcome || outcome.at === state.lastAnalysisAt) return undefined;
  return outcome.verdict;
}

function planSteps(context: Context): Plan {
  const { observed, spec, action, pendingRevision = "", pendingTemplate } = context;
  const state = context.state;
  if (action === "abort" && (!state || state.step < 0)) return abort(context, "user", "aborted by the user.");
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
      return abort(context, "user", `aborted by the user at ${text}%.`);
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
  if (rollout.state === "failed")
    return abort(context, "canary-failed", `the canary failed: ${rollout.reason}.`);
  // The weight in force is repaired on every pass: someone may have edited the split.
  const hold = (change: Change = {}): Action[] => [
    ...canaryApply,
    ...write(observed, { canary: weight, ...change }),
  ];
  if (state.pausedAt || step?.kind === "pause") return { actions: hold({ phase: "Paused" }) };

  // Checks that finished since the last reconcile are recorded; failures count towards the limit, a
  // pass clears them.
  let current = state;
  const analysis = newChecks(observed, state);
  if (analysis) {
    const at = observed.checks?.at ?? now.toISOString();
    current = { ...current, lastAnalysisAt: at, lastAnalysis: analysis.result };
    if (analysis.result === "fail") {
      const failures = current.failures + 1;
      if (failures > spec.failureLimit)
        return abort(context, "analysis", `checks failed at ${text}%: ${analysis.reason}.`);
      const message = `Check failed at ${text}% (${failures} of ${spec.failureLimit} tolerated): ${analysis.reason}.`;
      return {
        actions: [
          ...hold({ message, state: { ...current, failures } }),
          event("AnalysisFailed", message, true),
        ],
        requeueAfterMs: spec.analysisIntervalMs,
      };
    }
    if (analysis.result === "pass") current = { ...current, failures: 0 };
  }
  const nextCheckMs = analysisDueInMs(spec, current, now);
  const checking = observed.running?.checks ?? false;
  // The planner alone says when checks run: due, and not already running.
  const startChecks: Action[] =
    nextCheckMs === 0 && !checking && step?.kind === "weight"
      ? [
          {
            type: "runChecks",
            checks: spec.analysis,
            intervalMs: spec.analysisIntervalMs,
            ticket: ticketOf(current),
          },
        ]
      : [];
  const recheckMs = nextCheckMs === 0 ? spec.analysisIntervalMs : nextCheckMs;

  const held = elapsedMs(current.stepStartedAt, now);
  if (held < spec.stepIntervalMs) {
    return {
      actions: [...hold({ phase: "Progressing", state: current }), ...startChecks],
      requeueAfterMs: Math.min(spec.stepIntervalMs - held, recheckMs),
    };
  }
  if (rollout.state !== "complete") {
    return {
      actions: [
        ...hold({
          message: `Holding at ${text}%: the canary is not ready (${rollout.reason}).`,
          state: current,
        }),
        ...startChecks,
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
      actions: [...hold({ ...(message ? { message } : {}), state: current }), ...startChecks],
      requeueAfterMs: recheckMs,
    };
  }
  if (spec.tests.length > 0) {
    const tests = forThisStep(observed.tests, current);
    if (!tests) {
      const call: Action[] =
        observed.running?.tests || step?.kind !== "weight"
          ? []
          : [
              {
                type: "callTests",
                urls: spec.tests,
                step: index + 1,
                weight: step.weight / 100,
                ticket: ticketOf(current),
              },
            ];
      return { actions: [...hold({ state: current }), ...call], requeueAfterMs: POLL_MS };
    }
    if (tests.verdict.result !== "pass") {
      const reason = tests.verdict.result === "fail" ? tests.verdict.reason : "test gates inconclusive";
      return abort({ ...context, state: current }, "test-gate", `${reason} at ${text}%.`);
    }
  }
  const dueAt = Date.parse(current.stepStartedAt ?? "") + spec.stepIntervalMs;
  return onSchedule(nextStep({ ...context, state: current }, index), dueAt);
}

/** Marks the decision's split write as the next step taken on schedule, due at `dueAtMs`. */
function onSchedule(decided: Plan, dueAtMs: number): Plan {
  if (!Number.isFinite(dueAtMs)) return decided;
  const dueAt = new Date(dueAtMs).toISOString();
  let marked = false;
  const actions = decided.actions.map((action): Action => {
    if (marked || action.type !== "writeRoute") return action;
    marked = true;
    return { ...action, dueAt };
  });
  return { ...decided, actions };
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
      ...routeWrite(observed, {
        canary: WEIGHT_SCALE,
        phase: "Promoting",
        message,
        routeTemplate: pendingTemplate,
      }),
      ...deploymentWrite(observed, { phase: "Promoting", weight: "100", template: pendingTemplate }, true),
      event("Promoting", message),
    ],
    requeueAfterMs: POLL_MS,
  };
}

function planPromoting(context: Context): Plan {
  const { observed, action, pendingRevision } = context;
  const copied = templateRevision(templateOf(observed.deployment)) === pendingRevision;
  if (!copied) {
    if (action === "abort") return abort(context, "user", "aborted by the user during promotion.");
    return promote(context, "promotion resumed");
  }
  if (action) return ignoreAction(observed, action, "the promotion is already under way");
  const rollout = rolloutOf(observed.deployment);
  if (rollout.state !== "complete") {
    return {
      actions: write(observed, {
        canary: WEIGHT_SCALE,
        message: `Promoting revision ${pendingRevision}: waiting for the Deployment to roll out (${rollout.reason}).`,
      }),
      requeueAfterMs: POLL_MS,
    };
  }
  const message = `Revision ${pendingRevision} promoted: the Deployment runs it and stable takes all traffic.`;
  return {
    actions: [
      ...routeWrite(observed, { canary: 0, message, state: null, routeTemplate: null }),
      { type: "deleteCanary" },
      ...deploymentWrite(observed, { phase: "Succeeded", weight: "0", clearPending: true }),
      event("Promoted", message),
    ],
  };
}

function planAborted(context: Context): Plan {
  const { observed, action, pendingRevision } = context;
  if (action === "retry") {
    if (!pendingRevision || !context.pendingTemplate)
      return ignoreAction(observed, action, "there is no revision to retry");
    return start(context, `Canary of revision ${pendingRevision} retried`, "CanaryRetried");
  }
  if (action)
    return ignoreAction(observed, action, "the canary was aborted; change the pod template or retry");
  // Level-triggered clean-up: a canary or canary traffic left over from an interrupted abort goes.
  const actions: Action[] = [...routeWrite(observed, { canary: 0 })];
  if (observed.canary) actions.push({ type: "deleteCanary" });
  actions.push(...deploymentWrite(observed, {}));
  return { actions };
}

/** The label was removed: stable 100%, then the canary, the split, the track Services and the status go. */
function planOptOut(observed: Observed): Plan {
  const labels = labelsOf(observed.deployment);
  const annotations = annotationsOf(observed.deployment);
  const statusLabels = [StatusLabel.phase, StatusLabel.weight].filter((key) => Object.hasOwn(labels, key));
  const statusAnnotations = [
    PendingKey.template,
    PendingKey.revision,
    ...LEGACY_DEPLOYMENT_ANNOTATIONS,
  ].filter((key) => Object.hasOwn(annotations, key));
  const hasStatus = statusLabels.length > 0 || statusAnnotations.length > 0;
  if (!hasStatus && !observed.canary && observed.route === undefined) return { actions: [] };
  const service = apexServiceOf(observed.deployment);
  const actions: Action[] = observed.route ? routeWrite(observed, { canary: 0 }) : [];
  actions.push({ type: "deleteCanary" }, { type: "removeRouting", service });
  if (hasStatus) {
    actions.push({
      type: "writeDeployment",
      annotations: Object.fromEntries(statusAnnotations.map((key) => [key, null])),
      labels: Object.fromEntries(statusLabels.map((key) => [key, null])),
    });
    actions.push(
      event("Disabled", "serin.dev/canary label removed: canary, traffic split and track Services removed."),
    );
  }
  return { actions };
}
