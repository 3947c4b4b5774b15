import type { MetricCheck } from "../contract/analysis.js";
import { formatDuration } from "../contract/duration.js";

/**
 * The PromQL behind each check. Built-ins read Linkerd's proxy metrics of the canary Deployment;
 * platform teams add named templates. Pure: text in, text out.
 */

export interface QueryScope {
  namespace: string;
  /** The canary Deployment, `<name>-canary`: Linkerd labels its proxies' metrics with it. */
  deployment: string;
  service: string;
  /** The range of rate(): the analysis interval, or the controller's minimum window if longer. */
  windowMs: number;
}

export type MetricTemplates = ReadonlyMap<string, string>;

export const BUILTIN_CHECKS = ["success-rate", "latency-p99"] as const;

/** Label values are quoted for PromQL: a backslash or a quote in a name cannot break out. */
const quote = (value: string) => JSON.stringify(value);

function selector(scope: QueryScope, extra = ""): string {
  return `{namespace=${quote(scope.namespace)},deployment=${quote(scope.deployment)},direction="inbound"${extra}}`;
}

export function builtinQuery(name: string, scope: QueryScope): string | undefined {
  const window = formatDuration(scope.windowMs);
  switch (name) {
    case "success-rate":
      return (
        `100 * sum(rate(response_total${selector(scope, ',classification!="failure"')}[${window}]))` +
        ` / sum(rate(response_total${selector(scope)}[${window}]))`
      );
    case "latency-p99":
      return `histogram_quantile(0.99, sum by (le) (rate(response_latency_ms_bucket${selector(scope)}[${window}])))`;
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
    interval: formatDuration(scope.windowMs),
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
