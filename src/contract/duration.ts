/**
 * Go-style durations ("30s", "1h30m", "1.5m", "250ms"), as users already write them for Flagger and
 * Kubernetes. Parsed to whole milliseconds.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * The longest duration any annotation may give: 24h. Node clamps timers past 2^31-1 ms (about 24.8
 * days) to 1 ms, so an unbounded hold would turn into a busy loop of reconciles.
 */
export const MAX_DURATION_MS = 24 * 3_600_000;

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when the text is not a Go duration. Sign is not accepted. */
export function parseDuration(text: string): number | undefined {
  if (text === "0") return 0;
  if (text.length === 0) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (!match || match.index !== start) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  // 400 digits of seconds are a valid spelling of Infinity.
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** The shortest Go-style spelling of a whole number of milliseconds ("1h30m", "1.5s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1_000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1_000;
  return `${hours ? `${hours}h` : ""}${minutes ? `${minutes}m` : ""}${seconds ? `${seconds}s` : ""}`;
}
