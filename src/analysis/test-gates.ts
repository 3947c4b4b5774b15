import type { TestUrlPolicy } from "../contract/test-urls.js";
import type { GateVerdict } from "../plan/decide.js";

/** What every integration-test gate receives, as DESIGN.md fixes it. */
export interface TestGatePayload {
  deployment: string;
  namespace: string;
  revision: string;
  step: number;
  weight: number;
  canaryService: string;
}

export const TEST_GATE_TIMEOUT_MS = 10_000;

/** POSTs the payload to every gate at once; each must answer 2xx within the timeout. */
export async function runTestGates(
  urls: readonly string[],
  payload: TestGatePayload,
  policy: TestUrlPolicy,
  timeoutMs = TEST_GATE_TIMEOUT_MS,
): Promise<GateVerdict> {
  const failures = await Promise.all(
    urls.map(async (url): Promise<string | undefined> => {
      // Checked again here: the allowlist may have changed since the annotation was admitted.
      if (!policy.allows(new URL(url))) return `${url} is not ${policy.describe}`;
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer();
        return response.ok ? undefined : `${url} answered ${response.status}`;
      } catch (error) {
        const timedOut = (error as Error).name === "TimeoutError";
        return timedOut
          ? `${url} did not answer within ${timeoutMs / 1000}s`
          : `${url}: ${(error as Error).message}`;
      }
    }),
  );
  const failed = failures.filter((failure): failure is string => failure !== undefined);
  return failed.length > 0
    ? { result: "fail", reason: `test gate failed: ${failed.join("; ")}` }
    : { result: "pass" };
}
