// A Prometheus and a test gate that answer only after a delay, on one HTTP server on loopback: every metric
// query serin makes (`--prometheus-url`) and every gate call (`serin.dev/tests`, its host allowed with
// `--test-host`) waits that long for a passing answer. `POST|GET /api/v1/query` answers an instant vector
// of one sample, 100 (a success rate that passes `success-rate>=99`); `POST /gate/NAMESPACE/NAME` answers
// 200 {"ok":true}.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { wallNow } from "./watched-events.js";

const GATE = /^\/gate\/([a-z0-9-]+)\/([a-z0-9-]+)$/;

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
  const gateAnswers = new Map<string, number[]>();
  const counts = { queries: 0, gateCalls: 0, peakInFlight: 0 };
  let inFlight = 0;
  const server: Server = createServer((request, response) => {
    request.resume();
    inFlight += 1;
    counts.peakInFlight = Math.max(counts.peakInFlight, inFlight);
    const path = new URL(request.url ?? "/", "http://backends").pathname;
    const gate = GATE.exec(path);
    const answer = (status: number, body: unknown, onSent?: () => void) =>
      setTimeout(() => {
        inFlight -= 1;
        if (response.destroyed) return;
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
        onSent?.();
      }, delayMs);
    if (path === "/api/v1/query") {
      counts.queries += 1;
      return answer(200, {
        status: "success",
        data: { resultType: "vector", result: [{ metric: {}, value: [wallNow() / 1000, "100"] }] },
      });
    }
    if (gate && request.method === "POST") {
      counts.gateCalls += 1;
      const key = `${gate[1]}/${gate[2]}`;
      return answer(200, { ok: true }, () => {
        const answers = gateAnswers.get(key) ?? [];
        answers.push(wallNow());
        gateAnswers.set(key, answers);
      });
    }
    return answer(404, { status: "error", error: `no such path: ${path}` });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    prometheusUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    gateUrl: (namespace, name) => `http://127.0.0.1:${port}/gate/${namespace}/${name}`,
    gateAnswers,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
