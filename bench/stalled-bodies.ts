import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { parseArgs } from "node:util";
import { realisticReview, startLogged } from "./webhook-process.js";

/**
 * `serin webhook` while many clients send large bodies slowly: its resident memory against the chart's
 * limit, and the latency of the legitimate reviews kube-apiserver sends meanwhile. The baseline is the
 * same process, same legitimate load, without the slow clients, measured first in the same run.
 */
const { values: options } = parseArgs({
  options: {
    duration: { type: "string", default: "30" },
    connections: { type: "string", default: "150" },
    "body-mib": { type: "string", default: "3" },
    "chunk-kib": { type: "string", default: "16" },
    "chunk-every-ms": { type: "string", default: "250" },
    rate: { type: "string", default: "50" },
    "limit-mib": { type: "string", default: "384" },
    main: { type: "string" },
  },
});
const durationMs = Number(options.duration) * 1_000;
const connections = Number(options.connections);
const bodyBytes = Number(options["body-mib"]) * 1024 * 1024;
const chunk = Buffer.alloc(Number(options["chunk-kib"]) * 1024, " ");
const chunkEveryMs = Number(options["chunk-every-ms"]);
const rate = Number(options.rate);
const limitMib = Number(options["limit-mib"]);

// Compiled to dist/bench: the repository root is two levels up.
const root = resolve(import.meta.dirname, "../..");
const main = options.main ? resolve(options.main) : join(root, "dist/src/cli/main.js");

function residentMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

interface Phase {
  rssMeanMib: number;
  rssPeakMib: number;
  p50: number;
  p99: number;
  reviews: number;
  failed: number;
  slowAnswers: Record<string, number>;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** Legitimate reviews at `rate` a second on keep-alive connections, for `ms`; latencies in ms. */
async function legitimate(port: number, ca: string, body: string, ms: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4, ca, servername: "localhost" });
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const send = () =>
    new Promise<void>((done) => {
      const started = process.hrtime.bigint();
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/mutate",
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            else failed += 1;
            done();
          });
        },
      );
      req.on("error", () => {
        failed += 1;
        done();
      });
      req.end(body);
    });
  const end = Date.now() + ms;
  while (Date.now() < end) {
    pending.push(send());
    await new Promise((resolve) => setTimeout(resolve, 1_000 / rate));
  }
  await Promise.all(pending);
  agent.destroy();
  return { latencies, failed };
}

/** `connections` clients, each POSTing a `bodyBytes` body a chunk at a time; cut off, they come back. */
function slowClients(port: number, ca: string) {
  const answers: Record<string, number> = {};
  const sockets = new Set<TLSSocket>();
  let stopped = false;
  const open = () => {
    if (stopped) return;
    const socket = connect({ host: "127.0.0.1", port, ca, servername: "localhost" });
    sockets.add(socket);
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on("secureConnect", () => {
      socket.write(
        `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${bodyBytes}\r\n\r\n[`,
      );
      sent = 1;
      timer = setInterval(() => {
        const piece = chunk.subarray(0, Math.min(chunk.length, bodyBytes - sent));
        if (piece.length === 0 || socket.destroyed) return clearInterval(timer);
        socket.write(piece);
        sent += piece.length;
      }, chunkEveryMs);
    });
    socket.once("data", (data: Buffer) => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data.toString("latin1"))?.[1] ?? "other";
      answers[status] = (answers[status] ?? 0) + 1;
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearInterval(timer);
      sockets.delete(socket);
      setTimeout(open, 100);
    });
  };
  for (let index = 0; index < connections; index++) open();
  return {
    answers,
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

async function phase(pid: number, port: number, ca: string, body: string, attacked: boolean): Promise<Phase> {
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(residentMib(pid)), 100);
  const attackers = attacked ? slowClients(port, ca) : undefined;
  // The slow clients first fill their buffers a while before the measured window starts.
  if (attackers) await new Promise((resolve) => setTimeout(resolve, 2_000));
  const { latencies, failed } = await legitimate(port, ca, body, durationMs);
  attackers?.stop();
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  return {
    rssMeanMib: samples.reduce((sum, value) => sum + value, 0) / samples.length,
    rssPeakMib: Math.max(...samples),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    reviews: latencies.length,
    failed,
    slowAnswers: attackers?.answers ?? {},
  };
}

const certDir = await mkdtemp(join(tmpdir(), "serin-bench-stalled-"));
const serin = await startLogged(
  [main, "webhook", "--listen", "127.0.0.1:0", "--cert-dir", certDir],
  join(certDir, "serin.log"),
);
try {
  const pid = serin.child.pid as number;
  const ca = await readFile(join(certDir, "ca.crt"), "utf8");
  const body = realisticReview();
  process.stderr.write(
    `${connections} slow clients, ${bodyBytes / 1024 / 1024} MiB bodies, ${chunk.length / 1024} KiB every ` +
      `${chunkEveryMs} ms each; legitimate reviews at ${rate}/s; ${durationMs / 1000}s a phase\n`,
  );
  await legitimate(serin.port, ca, body, 2_000);
  const baseline = await phase(pid, serin.port, ca, body, false);
  const attacked = await phase(pid, serin.port, ca, body, true);
  const row = (label: string, p: Phase) =>
    `| ${label} | ${p.rssMeanMib.toFixed(0)} | ${p.rssPeakMib.toFixed(0)} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.reviews} | ${p.failed} | ${
      Object.entries(p.slowAnswers)
        .map(([status, count]) => `${status}: ${count}`)
        .join(", ") || "-"
    } |`;
  const lines = [
    `command: node dist/bench/stalled-bodies.js ${process.argv.slice(2).join(" ")}`.trim(),
    "",
    "| phase | RSS mean MiB | RSS peak MiB | p50 ms | p99 ms | reviews answered | reviews failed | slow clients' answers |",
    "|---|---|---|---|---|---|---|---|",
    row("legitimate reviews only (baseline)", baseline),
    row(`with ${connections} slow ${bodyBytes / 1024 / 1024} MiB bodies`, attacked),
    "",
    `RSS peak: ${attacked.rssPeakMib.toFixed(0)} MiB, ${(attacked.rssPeakMib / baseline.rssPeakMib).toFixed(2)}x the baseline, ${((attacked.rssPeakMib / limitMib) * 100).toFixed(0)}% of the chart's ${limitMib} MiB limit`,
    `p99 of legitimate reviews: ${attacked.p99.toFixed(1)} ms, ${(attacked.p99 / baseline.p99).toFixed(2)}x the baseline (target < 50 ms)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  serin.child.kill("SIGTERM");
  await rm(certDir, { recursive: true, force: true });
}
