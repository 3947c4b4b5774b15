/** The names DESIGN.md fixes: users, scripts and tests depend on them, so they live in one place. */

export const PREFIX = "serin.dev/";

export const ENABLED_LABEL = "serin.dev/canary";
export const ENABLED_VALUE = "enabled";
export const TRACK_LABEL = "serin.dev/track";

export type Track = "stable" | "canary";

/** Annotations the user sets. */
export const UserKey = {
  service: "serin.dev/service",
  steps: "serin.dev/steps",
  stepInterval: "serin.dev/step-interval",
  analysis: "serin.dev/analysis",
  analysisInterval: "serin.dev/analysis-interval",
  failureLimit: "serin.dev/failure-limit",
  tests: "serin.dev/tests",
  progressDeadline: "serin.dev/progress-deadline",
  action: "serin.dev/action",
} as const;

/** Annotations serin writes. */
export const StatusKey = {
  phase: "serin.dev/phase",
  weight: "serin.dev/weight",
  message: "serin.dev/message",
  pendingTemplate: "serin.dev/pending-template",
  pendingRevision: "serin.dev/pending-revision",
  state: "serin.dev/state",
} as const;

/**
 * Status annotations serin also writes as labels of the same name, so that
 * `kubectl get deploy -L serin.dev/phase,serin.dev/weight` shows progress (labels only, for -L).
 */
export const MIRRORED_AS_LABELS: readonly string[] = [StatusKey.phase, StatusKey.weight];

export const PHASES = [
  "Initializing",
  "Idle",
  "Pending",
  "Progressing",
  "Paused",
  "Promoting",
  "Succeeded",
  "Aborted",
] as const;
export type Phase = (typeof PHASES)[number];

export function isPhase(value: unknown): value is Phase {
  return typeof value === "string" && (PHASES as readonly string[]).includes(value);
}

export const ACTIONS = ["promote", "abort", "pause", "resume", "retry"] as const;
export type Action = (typeof ACTIONS)[number];

/** Weights travel as integers out of this many parts: 0.1% is 10, never a float. */
export const WEIGHT_SCALE = 10_000;
