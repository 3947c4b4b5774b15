import { WEIGHT_SCALE } from "./keys.js";
import { itemPrefix, itemShown } from "./quote.js";

/** One entry of `serin.dev/steps`: a weight to hold, or an indefinite pause. */
export type Step = { kind: "weight"; weight: number; text: string } | { kind: "pause" };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export const STEPS_ALLOWED =
  "comma-separated percentages, strictly increasing, each in (0, 100] with at most 2 decimals, " +
  'and the word "pause" (e.g. "0.1,1,10,pause,50")';

const PERCENT = /^\d{1,3}(\.\d{1,2})?$/;

/** Percent text ("0.1", "25", "99.99") to parts of WEIGHT_SCALE, or undefined when not in (0, 100]. */
export function percentToWeight(text: string): number | undefined {
  if (!PERCENT.test(text)) return undefined;
  // Integer arithmetic on the digits: 0.1 must become exactly 10, never 9.999...
  const [whole = "0", fraction = ""] = text.split(".");
  const weight = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  return weight > 0 && weight <= WEIGHT_SCALE ? weight : undefined;
}

export function parseSteps(text: string): Parsed<Step[]> {
  const words = text.split(",").map((word) => word.trim());
  if (words.length === 1 && words[0] === "") return { ok: false, problem: "lists no step" };
  const steps: Step[] = [];
  let previous: { weight: number; text: string } | undefined;
  for (const word of words) {
    if (word === "pause") {
      steps.push({ kind: "pause" });
      continue;
    }
    if (word === "") return { ok: false, problem: "has an empty step" };
    const which = itemPrefix(word, text);
    if (!/^[\d.]+$/.test(word)) return { ok: false, problem: `${which}is neither a number nor "pause"` };
    if (/\.\d{3,}$/.test(word)) return { ok: false, problem: `${which}has more than 2 decimals` };
    const weight = percentToWeight(word);
    if (weight === undefined) return { ok: false, problem: `${which}is not a percentage in (0, 100]` };
    if (previous && weight <= previous.weight) {
      return {
        ok: false,
        problem: `is not strictly increasing: ${itemShown(word)} follows ${previous.text}`,
      };
    }
    previous = { weight, text: word };
    steps.push({ kind: "weight", weight, text: word });
  }
  if (!previous) return { ok: false, problem: "has no weight, only pauses" };
  return { ok: true, value: steps };
}

/** How a schedule reads in messages: "0.1%, 1%, pause, 50%". */
export function describeSteps(steps: readonly Step[]): string {
  return steps.map((step) => (step.kind === "pause" ? "pause" : `${step.text}%`)).join(", ");
}
