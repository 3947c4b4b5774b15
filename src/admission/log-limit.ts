import type { Logger } from "pino";

/**
 * Lets through at most `perSecond` log lines a second; the rest are counted, and one line says how
 * many were left out once the second is over. Whoever may edit a Deployment can make the webhook
 * deny as often as they like; the log must not grow with them.
 */
export interface LogLimiter {
  /** Runs `write` if this second still has room; otherwise counts it as suppressed. */
  write(write: () => void): void;
}

export function createLogLimiter(
  logger: Logger,
  perSecond: number,
  clock: () => number = Date.now,
): LogLimiter {
  let windowStart = Number.NEGATIVE_INFINITY;
  let written = 0;
  let suppressed = 0;
  let summary: NodeJS.Timeout | undefined;

  const flush = () => {
    if (summary) clearTimeout(summary);
    summary = undefined;
    if (suppressed === 0) return;
    logger.warn(
      { suppressed },
      `${suppressed} admission log lines left out: more than ${perSecond} a second`,
    );
    suppressed = 0;
  };

  return {
    write(write) {
      const now = clock();
      if (now - windowStart >= 1_000) {
        flush();
        windowStart = now;
        written = 0;
      }
      if (written < perSecond) {
        written += 1;
        write();
        return;
      }
      suppressed += 1;
      if (!summary) {
        summary = setTimeout(flush, Math.max(0, windowStart + 1_000 - now));
        summary.unref();
      }
    },
  };
}
