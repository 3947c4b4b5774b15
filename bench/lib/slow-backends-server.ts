// The slow Prometheus and test gate of lib/slow-backends.ts, as a process of its own, so that the benchmark's
// own work (thousands of watch events) never delays an answer. Argument: the delay in ms. Writes one JSON
// line to stdout per fact: {"port"} once listening, then {"gate": "namespace/name", "at": wall ms} per gate
// answer sent, {"query": 1} per query, {"peak": n} whenever more requests than ever are waiting at once.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

const GATE = /^\/gate\/([a-z0-9-]+)\/([a-z0-9-]+)$/;
const delayMs = Number(process.argv[2]);
if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= 60_000))
  throw new Error(`the backends' delay must be 0 to 60000 ms, got "${process.argv[2]}"`);

const wallNow = () => performance.timeOrigin + performance.now();
const tell = (fact: object) => process.stdout.write(`${JSON.stringify(fact)}\n`);
let inFlight = 0;
let peak = 0;

const server: Server = createServer((request, response) => {
  request.resume();
  inFlight += 1;
  if (inFlight > peak) {
    peak = inFlight;
    tell({ peak });
  }
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
    tell({ query: 1 });
    return answer(200, {
      status: "success",
      data: { resultType: "vector", result: [{ metric: {}, value: [wallNow() / 1000, "100"] }] },
    });
  }
  if (gate && request.method === "POST")
    return answer(200, { ok: true }, () => tell({ gate: `${gate[1]}/${gate[2]}`, at: wallNow() }));
  return answer(404, { status: "error", error: `no such path: ${path}` });
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => tell({ port: (server.address() as AddressInfo).port }));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
