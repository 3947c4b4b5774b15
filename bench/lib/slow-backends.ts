// A Prometheus and a test gate that answer only after a delay (lib/slow-backends-server.ts, a process of
// its own): every metric query serin makes (`--prometheus-url`) and every gate call (`serin.dev/tests`, its
// host allowed with `--test-host`) waits that long for a passing answer. `POST|GET /api/v1/query` answers an
// instant vector of one sample, 100 (a success rate that passes `success-rate>=99`); `POST
// /gate/NAMESPACE/NAME` answers 200 {"ok":true}.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SERVER = fileURLToPath(new URL("./slow-backends-server.js", import.meta.url));
const START_TIMEOUT_MS = 10_000;

export interface SlowBackends {
  /** For `serin watch --prometheus-url`. */
  readonly prometheusUrl: string;
  /** The loopback host, for `--test-host`. */
  readonly host: string;
  /** The gate URL of one app, for `serin.dev/tests`. */
  gateUrl(namespace: string, name: string): string;
  /** "namespace/name" -> wall-clock ms of each gate answer sent. */
  readonly gateAnswers: Map<string, number[]>;
  readonly counts: { queries: number; gateCalls: number; peakInFlight: number };
  close(): Promise<void>;
}

export async function startSlowBackends(delayMs: number): Promise<SlowBackends> {
  if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 60_000))
    throw new Error(`the backends' delay must be 0 to 60 s, got ${delayMs} ms`);
  const child: ChildProcess = spawn(process.execPath, [SERVER, String(Math.round(delayMs))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const gateAnswers = new Map<string, number[]>();
  const counts = { queries: 0, gateCalls: 0, peakInFlight: 0 };
  let buffered = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the slow backends did not start")), START_TIMEOUT_MS);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the slow backends exited with ${code}`)));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const fact = JSON.parse(line) as {
          port?: number;
          gate?: string;
          at?: number;
          query?: number;
          peak?: number;
        };
        if (fact.port !== undefined) {
          clearTimeout(timer);
          resolve(fact.port);
        } else if (fact.query) counts.queries += 1;
        else if (fact.peak !== undefined) counts.peakInFlight = fact.peak;
        else if (fact.gate !== undefined && fact.at !== undefined) {
          counts.gateCalls += 1;
          const answers = gateAnswers.get(fact.gate) ?? [];
          answers.push(fact.at);
          gateAnswers.set(fact.gate, answers);
        }
      }
    });
  });
  return {
    prometheusUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    gateUrl: (namespace, name) => `http://127.0.0.1:${port}/gate/${namespace}/${name}`,
    gateAnswers,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners("exit");
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
