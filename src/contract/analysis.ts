import { MAX_DURATION_MS, parseDuration } from "./duration.js";
import { itemPrefix, itemShown } from "./quote.js";
import type { Parsed } from "./steps.js";

/** A metric check from `serin.dev/analysis`. Thresholds of latency checks are milliseconds. */
export interface MetricCheck {
  name: string;
  op: ">=" | "<=";
  threshold: number;
  text: string;
}

/**
 * The largest magnitude a template's threshold may have. Far beyond any rate or ratio, and still
 * exact as a double: 400 nines would otherwise become Infinity, a check that always passes.
 */
const TEMPLATE_THRESHOLD_MAX = 1e15;

export const ANALYSIS_ALLOWED =
  'comma-separated checks: "success-rate>=PERCENT" (0 to 100), "latency-p99<=DURATION" (e.g. 500ms, ' +
  'at most 24h), or "NAME<=NUMBER" / "NAME>=NUMBER" for a metric template the platform team configured ' +
  "(a number of at most 1e15 in magnitude)";

const CHECK = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\s*(>=|<=)\s*(\S+)$/;
const NUMBER = /^-?(\d+(\.\d+)?|\.\d+)$/;

function parseCheck(text: string, whole: string): Parsed<MetricCheck> {
  const which = itemPrefix(text, whole);
  const about = which === "" ? "" : `has "${itemShown(text)}": `;
  const match = CHECK.exec(text);
  if (!match) return { ok: false, problem: `${which}is not NAME>=VALUE or NAME<=VALUE` };
  const [, name = "", op, value = ""] = match;
  const check = (threshold: number): Parsed<MetricCheck> => ({
    ok: true,
    value: { name, op: op as MetricCheck["op"], threshold, text },
  });
  if (name === "success-rate") {
    if (op !== ">=") return { ok: false, problem: `${about}success-rate takes >=` };
    const percent = NUMBER.test(value) ? Number(value) : Number.NaN;
    if (!(percent >= 0 && percent <= 100)) {
      return { ok: false, problem: `${about}success-rate needs a percentage from 0 to 100` };
    }
    return check(percent);
  }
  if (name === "latency-p99") {
    if (op !== "<=") return { ok: false, problem: `${about}latency-p99 takes <=` };
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      return { ok: false, problem: `${about}latency-p99 needs a duration such as 500ms` };
    }
    if (ms > MAX_DURATION_MS) return { ok: false, problem: `${about}latency-p99 is longer than 24h` };
    return check(ms);
  }
  if (!NUMBER.test(value)) return { ok: false, problem: `${about}${name} needs a number` };
  const threshold = Number(value);
  if (!(Math.abs(threshold) <= TEMPLATE_THRESHOLD_MAX)) {
    return { ok: false, problem: `${about}${name} needs a number of at most 1e15 in magnitude` };
  }
  return check(threshold);
}

/**
 * `known`: the metric template names the controller was configured with; when given, any other name
 * that is not built in is refused at admission instead of failing every check later.
 */
export function parseAnalysis(text: string, known?: readonly string[]): Parsed<MetricCheck[]> {
  const checks: MetricCheck[] = [];
  const seen = new Set<string>();
  for (const item of text.split(",").map((part) => part.trim())) {
    if (item === "") return { ok: false, problem: "has an empty check" };
    const parsed = parseCheck(item, text);
    if (!parsed.ok) return parsed;
    const { name } = parsed.value;
    if (known && name !== "success-rate" && name !== "latency-p99" && !known.includes(name)) {
      const offer = known.length > 0 ? known.join(", ") : "none are configured";
      const but = itemPrefix(item, text) === "" ? "" : `has "${itemShown(item)}", but `;
      return { ok: false, problem: `${but}${name} is not a configured metric template (${offer})` };
    }
    const key = `${name}${parsed.value.op}`;
    if (seen.has(key)) return { ok: false, problem: `checks ${key} twice` };
    seen.add(key);
    checks.push(parsed.value);
  }
  return { ok: true, value: checks };
}
