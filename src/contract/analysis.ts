import { parseDuration } from "./duration.js";
import type { Parsed } from "./steps.js";

/** A metric check from `serin.dev/analysis`. Thresholds of latency checks are milliseconds. */
export interface MetricCheck {
  name: string;
  op: ">=" | "<=";
  threshold: number;
  text: string;
}

export const ANALYSIS_ALLOWED =
  'comma-separated checks: "success-rate>=PERCENT", "latency-p99<=DURATION" (e.g. 500ms), ' +
  'or "NAME<=NUMBER" / "NAME>=NUMBER" for a metric template the platform team configured';

const CHECK = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\s*(>=|<=)\s*(\S+)$/;
const NUMBER = /^-?(\d+(\.\d+)?|\.\d+)$/;

function parseCheck(text: string): Parsed<MetricCheck> {
  const match = CHECK.exec(text);
  if (!match) return { ok: false, problem: `has "${text}", which is not NAME>=VALUE or NAME<=VALUE` };
  const [, name = "", op, value = ""] = match;
  const check = (threshold: number): Parsed<MetricCheck> => ({
    ok: true,
    value: { name, op: op as MetricCheck["op"], threshold, text },
  });
  if (name === "success-rate") {
    if (op !== ">=") return { ok: false, problem: `has "${text}": success-rate takes >=` };
    const percent = NUMBER.test(value) ? Number(value) : Number.NaN;
    if (!(percent >= 0 && percent <= 100)) {
      return { ok: false, problem: `has "${text}": success-rate needs a percentage from 0 to 100` };
    }
    return check(percent);
  }
  if (name === "latency-p99") {
    if (op !== "<=") return { ok: false, problem: `has "${text}": latency-p99 takes <=` };
    const ms = parseDuration(value);
    if (ms === undefined || ms <= 0) {
      return { ok: false, problem: `has "${text}": latency-p99 needs a duration such as 500ms` };
    }
    return check(ms);
  }
  if (!NUMBER.test(value)) return { ok: false, problem: `has "${text}": ${name} needs a number` };
  return check(Number(value));
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
    const parsed = parseCheck(item);
    if (!parsed.ok) return parsed;
    const { name } = parsed.value;
    if (known && name !== "success-rate" && name !== "latency-p99" && !known.includes(name)) {
      const offer = known.length > 0 ? known.join(", ") : "none are configured";
      return {
        ok: false,
        problem: `has "${item}", but ${name} is not a configured metric template (${offer})`,
      };
    }
    const key = `${name}${parsed.value.op}`;
    if (seen.has(key)) return { ok: false, problem: `checks ${key} twice` };
    seen.add(key);
    checks.push(parsed.value);
  }
  return { ok: true, value: checks };
}
