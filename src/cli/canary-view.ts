// What the operator's commands say about a canary, as pure functions of what was read: the Deployment
// (phase and weight labels, the user's annotations, the pending revision), its traffic split (state,
// message, weights) and serin's Events on it. `serin status`, `serin list` and the demo print from here.
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { annotationsOf, apexServiceOf, isEnabled, labelsOf } from "../contract/deployment.js";
import { formatDuration, parseDuration } from "../contract/duration.js";
import { ENABLED_LABEL, PendingKey, RouteKey, StatusLabel, UserKey, WEIGHT_SCALE } from "../contract/keys.js";
import { DEFAULTS } from "../contract/spec.js";
import { parseSteps, type Step } from "../contract/steps.js";
import { type CanaryState, parseState } from "../plan/state.js";

/** The phases in which a canary is in flight: listed first, and followed by `status --watch`. */
const LIVE_PHASES: readonly string[] = ["Pending", "Progressing", "Paused", "Promoting"];

/** The Event reasons that mark a transition: the newest one dates a settled phase. */
const TRANSITIONS = new Set([
  "Initialized",
  "CanaryStarted",
  "WeightShifted",
  "Paused",
  "Resumed",
  "Promoting",
  "Promoted",
  "Aborted",
  "ServiceMissing",
  "NameCollision",
]);

/** The traffic split as the router read it. */
export interface SplitView {
  /** "TrafficSplit" or "HTTPRoute". */
  kind: string;
  name: string;
  stableService: string;
  canaryService: string;
  /** Out of WEIGHT_SCALE (10000). */
  stable: number;
  canary: number;
}

/** One of serin's Events on the Deployment. */
export interface EventView {
  /** ISO time. */
  at: string;
  reason: string;
  message: string;
  warning: boolean;
}

export interface CanaryView {
  namespace: string;
  name: string;
  enabled: boolean;
  /** The phase label; undefined until the watcher has reconciled the Deployment. */
  phase: string | undefined;
  /** The weight label: percent as written in the steps. */
  weight: string | undefined;
  /** The steps as parsed, or undefined when the annotation cannot be read. */
  steps: Step[] | undefined;
  stepIntervalMs: number | undefined;
  /** `serin.dev/analysis` as written. */
  analysis: string | undefined;
  failureLimit: string;
  service: string;
  /** The revision in flight or just aborted. */
  revision: string | undefined;
  /** An action set and not yet acted on. */
  action: string | undefined;
  message: string | undefined;
  state: CanaryState | undefined;
  split: SplitView | undefined;
  /** serin's Events on the Deployment, oldest first. */
  events: EventView[];
}

/** The apex Service a Deployment's split is named after. */
export function serviceOf(deployment: V1Deployment): string {
  return apexServiceOf(deployment);
}

/** An ISO time from what the client hands over: a Date (typed lists) or a string (raw JSON, watches). */
function isoTime(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** serin's Events from Kubernetes Event objects (others are left out), oldest first. */
export function eventViews(events: readonly unknown[]): EventView[] {
  const views: EventView[] = [];
  for (const item of events) {
    const event = item as {
      source?: { component?: string };
      reason?: string;
      message?: string;
      type?: string;
      lastTimestamp?: unknown;
      eventTime?: unknown;
      firstTimestamp?: unknown;
      metadata?: { creationTimestamp?: unknown };
    };
    if (event.source?.component !== "serin") continue;
    const at =
      isoTime(event.lastTimestamp) ??
      isoTime(event.eventTime) ??
      isoTime(event.firstTimestamp) ??
      isoTime(event.metadata?.creationTimestamp);
    if (!at) continue;
    views.push({
      at,
      reason: event.reason ?? "",
      message: event.message ?? "",
      warning: event.type === "Warning",
    });
  }
  return views.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export function viewOf(
  deployment: V1Deployment,
  split?: KubernetesObject,
  splitView?: SplitView,
  events: EventView[] = [],
): CanaryView {
  const annotations = annotationsOf(deployment);
  const labels = labelsOf(deployment);
  const notes = split?.metadata?.annotations ?? {};
  const steps = parseSteps(annotations[UserKey.steps] ?? DEFAULTS.steps);
  const state = parseState(notes[RouteKey.state]);
  // The split is written first in every decision: while the labels lag behind it, it says where the
  // canary is (the phase it was written with, and the weight in force).
  return {
    namespace: deployment.metadata?.namespace ?? "",
    name: deployment.metadata?.name ?? "",
    enabled: isEnabled(deployment),
    phase: state?.phase ?? labels[StatusLabel.phase],
    weight: splitView ? String(splitView.canary / (WEIGHT_SCALE / 100)) : labels[StatusLabel.weight],
    steps: steps.ok ? steps.value : undefined,
    stepIntervalMs: parseDuration(annotations[UserKey.stepInterval] ?? DEFAULTS.stepInterval),
    analysis: annotations[UserKey.analysis],
    failureLimit: annotations[UserKey.failureLimit] ?? DEFAULTS.failureLimit,
    service: serviceOf(deployment),
    revision: annotations[PendingKey.revision],
    action: annotations[UserKey.action],
    message: notes[RouteKey.message],
    state,
    split: splitView,
    events,
  };
}

export function isLive(view: Pick<CanaryView, "phase">): boolean {
  return view.phase !== undefined && LIVE_PHASES.includes(view.phase);
}

/** The step in force, counted from 1, while the canary is in flight. */
export function stepOf(view: CanaryView): { number: number; of: number } | undefined {
  const { state, steps } = view;
  if (!isLive(view) || !state || state.step < 0 || !steps || state.revision !== view.revision)
    return undefined;
  return { number: Math.min(state.step, steps.length - 1) + 1, of: steps.length };
}

/**
 * When the current phase began. In flight: the step's clock from the state (when the user paused, the
 * pause; before the first step, the canary's start). Settled phases keep no state: the newest
 * transition Event says (Events expire after the apiserver's --event-ttl, an hour by default).
 */
export function phaseSince(view: CanaryView): string | undefined {
  const { state } = view;
  if (
    state &&
    state.revision === view.revision &&
    (view.phase === "Progressing" || view.phase === "Paused")
  ) {
    return (view.phase === "Paused" ? state.pausedAt : undefined) ?? state.stepStartedAt ?? state.startedAt;
  }
  const transitions = view.events.filter((event) => TRANSITIONS.has(event.reason));
  return transitions[transitions.length - 1]?.at ?? (isLive(view) ? state?.startedAt : undefined);
}

/** How long ago, as kubectl writes ages: 45s, 3m12s, 2h5m, 3d4h. */
export function age(since: string | undefined, now: Date): string {
  if (!since) return "-";
  const seconds = Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 1_000));
  if (Number.isNaN(seconds)) return "-";
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes}m${seconds % 60}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours}h${minutes % 60}m` : `${hours}h`;
  return hours % 24 ? `${Math.floor(hours / 24)}d${hours % 24}h` : `${Math.floor(hours / 24)}d`;
}

/** The time left in the current weight step, or why there is none. */
export function stepClock(view: CanaryView, now: Date): string | undefined {
  const { state, stepIntervalMs } = view;
  if (!stepOf(view) || !state?.stepStartedAt || stepIntervalMs === undefined) return undefined;
  const step = view.steps?.[state.step];
  if (step?.kind === "pause") return "paused by the steps: until resume or promote";
  // A user's pause freezes the clock at the moment it began.
  const at = state.pausedAt ? Date.parse(state.pausedAt) : now.getTime();
  const held = Math.max(0, at - Date.parse(state.stepStartedAt));
  const left = Math.max(0, stepIntervalMs - held);
  const whole = (ms: number) => formatDuration(Math.floor(ms / 1_000) * 1_000);
  const status = state.pausedAt
    ? `paused by the user ${age(state.pausedAt, now)} ago`
    : left === 0
      ? "held long enough: waiting for checks and gates"
      : `${whole(left + 999)} left`;
  return `${whole(held)} held of ${formatDuration(stepIntervalMs)}, ${status}`;
}

/** "web-stable 90% · web-canary 10%" (with the exact parts out of 10000 when `exact`). */
export function describeSplit(split: SplitView, exact = false): string {
  const share = (parts: number) => `${(parts * 100) / WEIGHT_SCALE}%${exact ? ` (${parts})` : ""}`;
  return `${split.stableService} ${share(split.stable)} · ${split.canaryService} ${share(split.canary)}`;
}

/** The steps as a bar filled up to where the canary is, then each weight with the current one marked. */
export function progressBar(view: CanaryView, now: Date, width = 24): string | undefined {
  const at = stepOf(view);
  if (!view.steps || view.steps.length === 0) return undefined;
  const settled = view.phase === "Succeeded" || view.phase === "Promoting";
  let done = 0;
  if (settled) done = view.steps.length;
  else if (at && view.state) {
    const interval = view.stepIntervalMs ?? 0;
    const started = view.state.stepStartedAt;
    const held = started
      ? (view.state.pausedAt ? Date.parse(view.state.pausedAt) : now.getTime()) - Date.parse(started)
      : 0;
    const fraction = interval > 0 && view.steps[at.number - 1]?.kind === "weight" ? held / interval : 0;
    done = at.number - 1 + Math.min(1, Math.max(0, fraction));
  }
  const filled = Math.round((done / view.steps.length) * width);
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
  const marks = view.steps.map((step, index) => {
    const text = step.kind === "pause" ? "pause" : `${step.text}%`;
    if (settled || (at && index < at.number - 1)) return `${text} ok`;
    if (at && index === at.number - 1) return `>${text}<`;
    return text;
  });
  return `${bar} ${marks.join("  ")}`;
}

/** The metric checks asked for, and what the latest said. */
function describeChecks(view: CanaryView, now: Date): string | undefined {
  if (!view.analysis) return undefined;
  const state = view.state && view.state.revision === view.revision ? view.state : undefined;
  const last =
    state?.lastAnalysis && state.lastAnalysisAt
      ? `last ${state.lastAnalysis} ${age(state.lastAnalysisAt, now)} ago`
      : "none run yet in this canary";
  const failures = state ? `, ${state.failures} failed of ${view.failureLimit} tolerated` : "";
  return `${view.analysis}: ${last}${failures}`;
}

/** What the person at the terminal can do now, as the commands to type (padded to one width). */
export function actionCommands(view: CanaryView, program: string): [string, string][] {
  const commands = possibleActions(view, program);
  const width = Math.max(0, ...commands.map(([command]) => command.length));
  return commands.map(([command, what]) => [command.padEnd(width), what]);
}

function possibleActions(view: CanaryView, program: string): [string, string][] {
  const command = (action: string) => `${program} ${action} ${view.name} -n ${view.namespace}`;
  if (view.phase === "Aborted") return [[command("retry"), "start the aborted revision's canary again"]];
  if (!isLive(view) || view.phase === "Promoting") return [];
  const paused = view.phase === "Paused";
  return [
    [command("promote"), "skip the remaining steps and promote"],
    [command("abort"), "all traffic back to stable, then the canary is removed"],
    paused
      ? [command("resume"), "carry on after the pause"]
      : [command("pause"), "hold at the current weight"],
  ];
}

export interface StatusOptions {
  /** Print the live parts: the bar, the clock, the checks, the events and the commands. */
  live?: boolean;
  now?: Date;
  /** How the commands to act are spelled: "serin" or "kubectl serin". */
  program?: string;
  /** How many of the latest Events to show. */
  events?: number;
}

/** The rows of `serin status`, label and value (a value may span lines). */
export function statusRows(view: CanaryView, options: StatusOptions = {}): [string, string][] {
  const name = `${view.namespace}/${view.name}`;
  if (!view.enabled)
    return [["deployment", `${name}: not enabled (label ${ENABLED_LABEL}=enabled is missing)`]];
  const now = options.now ?? new Date();
  const at = stepOf(view);
  const since = phaseSince(view);
  const rows: [string, string | undefined][] = [
    ["deployment", name],
    [
      "phase",
      view.phase === undefined
        ? "(not reconciled yet)"
        : `${view.phase}${options.live && since ? ` for ${age(since, now)}` : ""}`,
    ],
    [
      "weight",
      view.weight !== undefined
        ? `${view.weight}%${at ? ` (step ${at.number} of ${at.of})` : ""}`
        : undefined,
    ],
    ["pending", view.revision],
    ["action", view.action ? `${view.action} (not yet acted on)` : undefined],
    ["message", view.message],
  ];
  if (options.live) {
    rows.push(
      ["steps", progressBar(view, now)],
      [
        "split",
        view.split ? `${view.split.kind} ${view.split.name}: ${describeSplit(view.split, true)}` : undefined,
      ],
      ["step", stepClock(view, now)],
      ["checks", describeChecks(view, now)],
      [
        "events",
        view.events
          .slice(-(options.events ?? 5))
          .map((event) => `${clock(event.at)}  ${event.reason}: ${event.message}`)
          .join("\n") || undefined,
      ],
      [
        "act",
        actionCommands(view, options.program ?? "serin")
          .map(([command, what]) => `${command}   ${what}`)
          .join("\n") || undefined,
      ],
    );
  }
  return rows.filter((row): row is [string, string] => row[1] !== undefined);
}

/** Rows as `label:     value`, continuation lines indented under the value. */
export function formatRows(rows: readonly [string, string][]): string {
  return rows
    .map(([label, value]) => `${`${label}:`.padEnd(12)}${value.replace(/\n/g, `\n${" ".repeat(12)}`)}`)
    .join("\n")
    .concat("\n");
}

/** HH:MM:SS of an ISO time, in UTC. */
export function clock(at: string): string {
  const time = new Date(at);
  return Number.isNaN(time.getTime()) ? at : time.toISOString().slice(11, 19);
}

/**
 * The lines `serin status` prints: what a user checks during a rollout. The phase and the weight are
 * labels of the Deployment; the step and the message are kept on the traffic split serin owns.
 */
export function describeStatus(
  deployment: V1Deployment,
  split?: KubernetesObject,
  splitView?: SplitView,
  options: StatusOptions = {},
  events: EventView[] = [],
): string {
  return formatRows(statusRows(viewOf(deployment, split, splitView, events), options));
}

/**
 * One line of `status --watch` when stdout is not a terminal (a CI log): what changed, without the
 * ticking clocks, so that the same state never prints twice.
 */
export function statusLine(view: CanaryView): string {
  const at = stepOf(view);
  const parts = [
    view.phase ?? "(not reconciled yet)",
    view.weight !== undefined
      ? `weight ${view.weight}%${at ? ` (step ${at.number} of ${at.of})` : ""}`
      : undefined,
    view.split ? `${view.split.kind} ${view.split.name}: ${describeSplit(view.split, true)}` : undefined,
    view.revision ? `revision ${view.revision}` : undefined,
    view.action ? `action ${view.action} (not yet acted on)` : undefined,
    view.state?.lastAnalysis && view.state.revision === view.revision
      ? `last check ${view.state.lastAnalysis} at ${clock(view.state.lastAnalysisAt ?? "")}`
      : undefined,
    view.message,
  ];
  return `${view.namespace}/${view.name}: ${parts.filter((part) => part !== undefined).join(" | ")}`;
}
