import { ANALYSIS_ALLOWED, type MetricCheck, parseAnalysis } from "./analysis.js";
import { MAX_DURATION_MS, parseDuration } from "./duration.js";
import { ACTIONS, type Action, LEGACY_DEPLOYMENT_ANNOTATIONS, PendingKey, UserKey } from "./keys.js";
import { shorten } from "./quote.js";
import { type Parsed, parseSteps, STEPS_ALLOWED, type Step } from "./steps.js";
import { clusterLocalOnly, parseTestUrls, type TestUrlPolicy } from "./test-urls.js";

/** What the user asked for, from the Deployment's annotations, with DESIGN.md's defaults filled in. */
export interface CanarySpec {
  service: string;
  steps: Step[];
  stepIntervalMs: number;
  analysis: MetricCheck[];
  analysisIntervalMs: number;
  failureLimit: number;
  tests: string[];
  progressDeadlineMs: number;
  action: Action | undefined;
}

/** One bad annotation, said so that the user can fix it without reading our code. */
export interface AnnotationError {
  key: string;
  /** The value as written, or as JSON when it is not a string. */
  value: string;
  problem: string;
  allowed: string;
}

export type SpecResult = { ok: true; spec: CanarySpec } | { ok: false; errors: AnnotationError[] };

export interface SpecOptions {
  testUrlPolicy?: TestUrlPolicy;
  /** Names of the metric templates configured; undefined: any name is accepted. */
  metricTemplates?: readonly string[];
  /**
   * The Deployment's namespace: test gates may call only its Services (unless the allowlist says
   * more), and a bare Service name in a test URL is resolved into it.
   */
  namespace?: string;
}

/**
 * The longest value of a user annotation, in bytes. The longest sensible one (a list of test URLs)
 * is far shorter; a bound keeps denials, Events and the watcher's work small whatever is sent.
 */
export const ANNOTATION_VALUE_MAX_BYTES = 4_096;
export const FAILURE_LIMIT_MAX = 100;

/** The annotations serin writes on the Deployment itself, now or before: read, so always strings. */
const SERIN_WRITTEN: readonly string[] = [...Object.values(PendingKey), ...LEGACY_DEPLOYMENT_ANNOTATIONS];

export const DEFAULTS = {
  steps: "10,25,50,75",
  stepInterval: "1m",
  analysisInterval: "10s",
  failureLimit: "1",
  progressDeadline: "10m",
} as const;

const DURATION_ALLOWED = 'a Go duration from 1s to 24h, such as "30s", "2m" or "1h30m"';
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// "<service>-canary" must still be a valid Service name.
const SERVICE_NAME_MAX = 63 - "-canary".length;

function parseMinDuration(text: string): Parsed<number> {
  const ms = parseDuration(text);
  if (ms === undefined) return { ok: false, problem: "is not a duration" };
  if (ms < 1_000) return { ok: false, problem: "is shorter than 1s" };
  if (ms > MAX_DURATION_MS) return { ok: false, problem: "is longer than 24h" };
  return { ok: true, value: ms };
}

function parseServiceName(text: string): Parsed<string> {
  if (!SERVICE_NAME.test(text)) return { ok: false, problem: "is not a valid Service name" };
  if (text.length > SERVICE_NAME_MAX) {
    return {
      ok: false,
      problem: `is longer than ${SERVICE_NAME_MAX} characters, too long for "<service>-canary"`,
    };
  }
  return { ok: true, value: text };
}

function parseFailureLimit(text: string): Parsed<number> {
  if (!/^\d+$/.test(text)) return { ok: false, problem: "is not a whole number" };
  if (Number(text) > FAILURE_LIMIT_MAX) return { ok: false, problem: `is more than ${FAILURE_LIMIT_MAX}` };
  return { ok: true, value: Number(text) };
}

function parseAction(text: string): Parsed<Action> {
  return (ACTIONS as readonly string[]).includes(text)
    ? { ok: true, value: text as Action }
    : { ok: false, problem: "is not a known action" };
}

/**
 * Parses every user annotation at once and reports every bad one, not just the first: a user fixing
 * a manifest should not have to apply it four times to learn of four mistakes.
 */
export function parseCanarySpec(
  annotations: Readonly<Record<string, string>> | undefined,
  deploymentName: string,
  options: SpecOptions = {},
): SpecResult {
  // Typed as strings, but sent by anyone as JSON: numbers, objects and null arrive here too.
  const given: Readonly<Record<string, unknown>> = annotations ?? {};
  const errors: AnnotationError[] = [];
  for (const key of SERIN_WRITTEN) {
    const value = given[key];
    if (value !== undefined && typeof value !== "string") errors.push(notAString(key, value, "a string"));
  }
  function field<T>(
    key: string,
    fallback: string | undefined,
    parse: (text: string) => Parsed<T>,
    allowed: string,
  ): T | undefined {
    const value = given[key];
    if (value !== undefined && typeof value !== "string") {
      errors.push(notAString(key, value, allowed));
      return undefined;
    }
    if (value !== undefined && Buffer.byteLength(value) > ANNOTATION_VALUE_MAX_BYTES) {
      const problem = `is ${Buffer.byteLength(value)} bytes long, more than ${ANNOTATION_VALUE_MAX_BYTES}`;
      errors.push({ key, value, problem, allowed });
      return undefined;
    }
    const text = value ?? fallback;
    if (text === undefined) return undefined;
    const parsed = parse(text);
    if (parsed.ok) return parsed.value;
    // A bad default can only come from the Deployment's name (the service default).
    errors.push({
      key,
      value: value ?? `(not set; defaults to "${text}")`,
      problem: parsed.problem,
      allowed,
    });
    return undefined;
  }

  const service = field(
    UserKey.service,
    deploymentName,
    parseServiceName,
    `a Service name: lowercase letters, digits and "-", starting with a letter, at most ${SERVICE_NAME_MAX} characters`,
  );
  const steps = field(UserKey.steps, DEFAULTS.steps, parseSteps, STEPS_ALLOWED);
  const stepIntervalMs = field(
    UserKey.stepInterval,
    DEFAULTS.stepInterval,
    parseMinDuration,
    DURATION_ALLOWED,
  );
  const analysis =
    field(
      UserKey.analysis,
      undefined,
      (text) => parseAnalysis(text, options.metricTemplates),
      ANALYSIS_ALLOWED,
    ) ?? [];
  const analysisIntervalMs = field(
    UserKey.analysisInterval,
    DEFAULTS.analysisInterval,
    parseMinDuration,
    DURATION_ALLOWED,
  );
  const failureLimit = field(
    UserKey.failureLimit,
    DEFAULTS.failureLimit,
    parseFailureLimit,
    `a whole number from 0 to ${FAILURE_LIMIT_MAX}`,
  );
  const policy = options.testUrlPolicy ?? clusterLocalOnly;
  const tests =
    field(
      UserKey.tests,
      undefined,
      (text) => parseTestUrls(text, policy, options.namespace),
      `comma-separated http(s) URLs, each on ${policy.describe}`,
    ) ?? [];
  const progressDeadlineMs = field(
    UserKey.progressDeadline,
    DEFAULTS.progressDeadline,
    parseMinDuration,
    DURATION_ALLOWED,
  );
  const action = field(UserKey.action, undefined, parseAction, `one of ${ACTIONS.join(", ")}`);

  if (
    errors.length > 0 ||
    service === undefined ||
    steps === undefined ||
    stepIntervalMs === undefined ||
    analysisIntervalMs === undefined ||
    failureLimit === undefined ||
    progressDeadlineMs === undefined
  ) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    spec: {
      service,
      steps,
      stepIntervalMs,
      analysis,
      analysisIntervalMs,
      failureLimit,
      tests,
      progressDeadlineMs,
      action,
    },
  };
}

function notAString(key: string, value: unknown, allowed: string): AnnotationError {
  const type = typeof value;
  const kind =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "an array"
        : type === "object"
          ? "an object"
          : `a ${type}`;
  return { key, value: JSON.stringify(value) ?? String(value), problem: `is ${kind}, not a string`, allowed };
}

/** One line per bad annotation; the value is quoted once and cut short, so a denial stays small. */
export function describeError(error: AnnotationError): string {
  return `${error.key}="${shorten(error.value)}" ${error.problem}; allowed: ${error.allowed}`;
}
