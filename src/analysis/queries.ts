import type { MetricCheck } from "../contract/analysis.js";

/**
 * The PromQL behind each check. Built-ins read Linkerd's proxy metrics of the canary Deployment;
 * platform teams add named templates. Pure: text in, text out.
 */

/**
 * The range each check takes rate() and increase() over: its analysis interval plus one scrape
 * interval. rate() needs two samples of a series; with the extra scrape interval each check's window
 * holds the sample taken just before its interval began, so every increase between two scrapes is
 * judged by exactly one check: consecutive checks weigh separate evidence, and none is skipped.
 */
export function analysisWindowMs(analysisIntervalMs: number, scrapeIntervalMs: number): number {
  return analysisIntervalMs + scrapeIntervalMs;
}

export interface QueryScope {
  namespace: string;
  /** The canary Deployment, `<name>-canary`: Linkerd labels its proxies' metrics with it. */
  deployment: string;
  service: string;
  /** The range of rate() and increase(): see analysisWindowMs. */
  windowMs: number;
}

export type MetricTemplates = ReadonlyMap<string, string>;

export const BUILTIN_CHECKS = ["success-rate", "latency-p99"] as const;

/**
 * A range as PromQL writes it: whole units only (`2s500ms`, never `2.5s`, which Prometheus refuses).
 * Rounded to the millisecond.
 */
export function promqlDuration(ms: number): string {
  let left = Math.max(1, Math.round(ms));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
  ] as const) {
    const whole = Math.floor(left / size);
    if (whole > 0) parts.push(`${whole}${unit}`);
    left -= whole * size;
  }
  return parts.join("");
}

/** Label values are quoted for PromQL: a backslash or a quote in a name cannot break out. */
const quote = (value: string) => JSON.stringify(value);

function selector(scope: QueryScope, extra = ""): string {
  return `{namespace=${quote(scope.namespace)},deployment=${quote(scope.deployment)},direction="inbound"${extra}}`;
}

export function builtinQuery(name: string, scope: QueryScope): string | undefined {
  const window = promqlDuration(scope.windowMs);
  switch (name) {
    case "success-rate":
      // A proxy exports no success series until it has seen a success: a canary failing every request
      // has none, and the numerator must then be 0, not missing (which would read as "no data").
      return (
        `100 * (sum(rate(response_total${selector(scope, ',classification!="failure"')}[${window}])) or vector(0))` +
        ` / sum(rate(response_total${selector(scope)}[${window}]))`
      );
    case "latency-p99":
      return `histogram_quantile(0.99, sum by (le) (rate(response_latency_ms_bucket${selector(scope)}[${window}])))`;
    default:
      return undefined;
  }
}

/**
 * The counts a failing built-in check is judged on (see evidence.ts): for success-rate the requests and
 * the failed ones in the window; for latency-p99 the histogram's buckets by `le`.
 */
export function evidenceQueries(
  name: string,
  scope: QueryScope,
): { requests: string; failed: string } | { buckets: string } | undefined {
  const window = promqlDuration(scope.windowMs);
  switch (name) {
    case "success-rate":
      return {
        requests: `sum(increase(response_total${selector(scope)}[${window}]))`,
        failed: `sum(increase(response_total${selector(scope, ',classification="failure"')}[${window}]))`,
      };
    case "latency-p99":
      return { buckets: `sum by (le) (increase(response_latency_ms_bucket${selector(scope)}[${window}]))` };
    default:
      return undefined;
  }
}

/** A platform team's template with {{ namespace }}, {{ deployment }}, {{ service }} and {{ interval }} filled in. */
export function renderTemplate(template: string, scope: QueryScope): string {
  const values: Record<string, string> = {
    namespace: scope.namespace,
    deployment: scope.deployment,
    service: scope.service,
    interval: promqlDuration(scope.windowMs),
  };
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
}

export function queryFor(
  check: MetricCheck,
  scope: QueryScope,
  templates: MetricTemplates,
): string | undefined {
  const template = templates.get(check.name);
  return template !== undefined ? renderTemplate(template, scope) : builtinQuery(check.name, scope);
}

export type CheckResult =
  | { result: "pass"; value: number }
  | { result: "fail"; value: number; reason: string }
  | { result: "inconclusive"; reason: string };

const shown = (check: MetricCheck, value: number) =>
  check.name === "success-rate"
    ? `${Number(value.toFixed(2))}%`
    : check.name === "latency-p99"
      ? `${Number(value.toFixed(1))}ms`
      : String(Number(value.toPrecision(6)));

/** One value against its threshold; no value (no requests yet) is inconclusive, never a failure. */
export function judge(check: MetricCheck, value: number | undefined): CheckResult {
  if (value === undefined || Number.isNaN(value)) {
    return { result: "inconclusive", reason: `${check.name} has no data yet (no requests to the canary?)` };
  }
  const ok = check.op === ">=" ? value >= check.threshold : value <= check.threshold;
  if (ok) return { result: "pass", value };
  return { result: "fail", value, reason: `${check.name} ${shown(check, value)}, wanted ${check.text}` };
}
