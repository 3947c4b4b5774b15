// The test gate every controller calls once per step: a plain HTTP server on loopback that passes unless
// the benchmark has told it to fail for an app. `GET|POST /gate/NAMESPACE/NAME` answers 200 {"ok":true}
// or 500 {"ok":false}; `/hold/NAMESPACE/NAME` answers 200 while `holding` says no, else 403 (Flagger's
// confirm-traffic-increase hook, which keeps a canary at its first weight for the rollback trials).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Gate {
  readonly port: number;
  /** The gate's URL for one app; `kind` "hold" is the traffic-increase hook. */
  url(kind: "gate" | "hold", namespace: string, name: string): string;
  /** Apps ("namespace/name") whose gate fails. */
  readonly failing: Set<string>;
  /** Whether the app's canary must stay where it is (answered on /hold). */
  holding: (key: string) => boolean;
  /** Gate calls per app since the last `resetCalls()`. */
  readonly calls: Map<string, number>;
  resetCalls(): void;
  close(): Promise<void>;
}

const PATH = /^\/(gate|hold)\/([a-z0-9-]+)\/([a-z0-9-]+)$/;

export async function startGate(): Promise<Gate> {
  const failing = new Set<string>();
  const calls = new Map<string, number>();
  const gate = {
    failing,
    calls,
    holding: (_key: string) => false,
  };
  const server: Server = createServer((request, response) => {
    // The body (serin's and Flagger's JSON) is not needed: the path names the app.
    request.resume();
    const match = PATH.exec(new URL(request.url ?? "/", "http://gate").pathname);
    const answer = (status: number, ok: boolean) => {
      response.writeHead(status, { "content-type": "application/json", connection: "keep-alive" });
      response.end(JSON.stringify({ ok }));
    };
    if (!match) return answer(404, false);
    const key = `${match[2]}/${match[3]}`;
    if (match[1] === "hold") return answer(gate.holding(key) ? 403 : 200, !gate.holding(key));
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return failing.has(key) ? answer(500, false) : answer(200, true);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return Object.assign(gate, {
    port,
    url: (kind: "gate" | "hold", namespace: string, name: string) =>
      `http://127.0.0.1:${port}/${kind}/${namespace}/${name}`,
    resetCalls: () => calls.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
