/** The names DESIGN.md fixes: users, scripts and tests depend on them, so they live in one place. */

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

/** Labels serin writes on the Deployment: neither bumps its generation nor is copied to ReplicaSets. */
export const StatusLabel = {
  phase: "serin.dev/phase",
  weight: "serin.dev/weight",
} as const;

/** Annotations the webhook writes on the Deployment at admission (the template moves off once taken over). */
export const PendingKey = {
  template: "serin.dev/pending-template",
  revision: "serin.dev/pending-revision",
} as const;

/**
 * Annotations serin keeps on the traffic split it owns: the watcher's bookkeeping, the human message
 * and the template in flight. The split is written at every step anyway, and nothing copies it.
 */
export const RouteKey = {
  state: "serin.dev/state",
  message: "serin.dev/message",
  template: "serin.dev/pending-template",
} as const;

/**
 * Status annotations earlier versions of serin wrote on the Deployment; removed at the next write.
 * (`serin.dev/phase` and `serin.dev/weight` are labels now.)
 */
export const LEGACY_DEPLOYMENT_ANNOTATIONS: readonly string[] = [
  "serin.dev/phase",
  "serin.dev/weight",
  "serin.dev/message",
  "serin.dev/state",
];

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
