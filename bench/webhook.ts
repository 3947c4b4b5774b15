import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { realisticReview, startLogged as start } from "./webhook-process.js";

/**
 * Admission throughput and latency of `serin webhook` against a bare Node HTTPS JSON echo, measured
 * in the same run: keep-alive HTTPS load of realistic AdmissionReviews (a Deployment whose template
 * changed), first at full speed, then at a fixed 1,000 requests/s.
 */
const { values: options } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    rate: { type: "string", default: "1000" },
    "rate-connections": { type: "string", default: "4" },
  },
});
const duration = Number(options.duration);
const connections = Number(options.connections);
const rate = Number(options.rate);
const rateConnections = Number(options["rate-connections"]);

// Compiled to dist/bench: the repository root is two levels up.
const root = resolve(import.meta.dirname, "../..");

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(port: number, body: string, ca: string, fixedRate?: number): Promise<Figures> {
  const connectionCount = fixedRate ? rateConnections : connections;
  const result = await autocannon({
    url: `https://localhost:${port}/mutate`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections: connectionCount,
    duration,
    tlsOptions: { ca },
    ...(fixedRate ? { overallRate: fixedRate } : {}),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

function ratio(a: number, b: number): string {
  return (a / b).toFixed(2);
}

const certDir = await mkdtemp(join(tmpdir(), "serin-bench-"));
const body = realisticReview();
// serin logs at info, as deployed: each held-back revision is a log line.
// serin first: it generates the certificates the baselines serve with.
const serin = await start(
  [join(root, "dist/src/cli/main.js"), "webhook", "--listen", "127.0.0.1:0", "--cert-dir", certDir],
  join(certDir, "serin.log"),
);
const servers = {
  echo: await start([join(root, "dist/bench/bare-echo.js"), certDir, "echo"], join(certDir, "echo.log")),
  parse: await start([join(root, "dist/bench/bare-echo.js"), certDir, "parse"], join(certDir, "parse.log")),
  serin,
};
const names = {
  echo: "bare Node HTTPS, fixed answer",
  parse: "bare Node HTTPS, JSON.parse + answer",
  serin: "serin webhook",
} as const;
const order = ["echo", "parse", "serin"] as const;
const ca = await readFile(join(certDir, "ca.crt"), "utf8");
try {
  process.stderr.write(
    `AdmissionReview body: ${Buffer.byteLength(body)} bytes; ${connections} connections at full speed, ` +
      `${rateConnections} at ${rate} req/s; ${duration}s a run\n`,
  );
  // Warm every server up (JIT, TLS sessions) before measuring.
  for (const name of order) await load(servers[name].port, body, ca, 200);
  const max: Record<string, Figures> = {};
  // Runs one after the other, never overlapping: each server gets both cores' share alone.
  for (const name of order) max[name] = await load(servers[name].port, body, ca);
  const fixedRate: Record<string, Figures> = {};
  for (const name of order) fixedRate[name] = await load(servers[name].port, body, ca, rate);
  const row = (label: string, f: Figures) =>
    `| ${label} | ${f.requestsPerSecond.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.errors} | ${f.non2xx} |`;
  const figure = (table: Record<string, Figures>, name: string) => table[name] as Figures;
  const lines = [
    "| run | req/s | p50 ms | p99 ms | errors | non-2xx |",
    "|---|---|---|---|---|---|",
    ...order.map((name) => row(`${names[name]}, max`, figure(max, name))),
    ...order.map((name) => row(`${names[name]}, ${rate} req/s`, figure(fixedRate, name))),
    "",
    `throughput ratio serin / fixed answer: ${ratio(figure(max, "serin").requestsPerSecond, figure(max, "echo").requestsPerSecond)} (target >= 0.70)`,
    `throughput ratio serin / JSON.parse + answer: ${ratio(figure(max, "serin").requestsPerSecond, figure(max, "parse").requestsPerSecond)}`,
    `p99 at ${rate} req/s: serin ${figure(fixedRate, "serin").p99} ms, fixed answer ${figure(fixedRate, "echo").p99} ms (target < 5 ms)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  for (const name of order) servers[name].child.kill("SIGTERM");
  await rm(certDir, { recursive: true, force: true });
}
