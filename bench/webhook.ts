import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { admissionRequest, deployment, review } from "../src/admission/review-fixtures.js";

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
  },
});
const duration = Number(options.duration);
const connections = Number(options.connections);
const rate = Number(options.rate);

// Compiled to dist/bench: the repository root is two levels up.
const root = resolve(import.meta.dirname, "../..");

function realisticReview(): string {
  const env = Array.from({ length: 24 }, (_, index) => ({
    name: `SETTING_${index}`,
    value: `value-${index}-${"x".repeat(40)}`,
  }));
  const withEnv = (image: string) => {
    const object = deployment({
      image,
      annotations: { "serin.dev/steps": "1,5,25,50", "serin.dev/analysis": "success-rate>=99" },
    });
    const container = object.spec?.template.spec?.containers[0];
    if (container) container.env = env;
    return object;
  };
  return JSON.stringify(
    review(
      admissionRequest(
        "UPDATE",
        withEnv("registry.example/web:2.0.0"),
        withEnv("registry.example/web:1.0.0"),
      ),
    ),
  );
}

async function start(
  args: string[],
  ready: (entry: Record<string, unknown>) => boolean,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (ready(entry)) resolvePort(entry.port as number);
    });
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  return { child, port };
}

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(port: number, body: string, ca: string, fixedRate?: number): Promise<Figures> {
  const result = await autocannon({
    url: `https://localhost:${port}/mutate`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections,
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
const listening = (entry: Record<string, unknown>) => typeof entry.port === "number";
// serin logs at info, as deployed; its output is drained by the readline in start().
const serin = await start(
  [join(root, "dist/src/cli/main.js"), "webhook", "--listen", "127.0.0.1:0", "--cert-dir", certDir],
  listening,
);
const bare = await start([join(root, "dist/bench/bare-echo.js"), certDir], listening);
const ca = await readFile(join(certDir, "ca.crt"), "utf8");
try {
  process.stderr.write(
    `AdmissionReview body: ${Buffer.byteLength(body)} bytes; ${connections} connections, ${duration}s a run\n`,
  );
  // Warm both up (JIT, TLS session set-up) before measuring.
  await load(bare.port, body, ca, 200);
  await load(serin.port, body, ca, 200);
  const bareMax = await load(bare.port, body, ca);
  const serinMax = await load(serin.port, body, ca);
  const bareFixed = await load(bare.port, body, ca, rate);
  const serinFixed = await load(serin.port, body, ca, rate);
  const rows = [
    ["bare Node HTTPS echo, max", bareMax],
    ["serin webhook, max", serinMax],
    [`bare Node HTTPS echo, ${rate} req/s`, bareFixed],
    [`serin webhook, ${rate} req/s`, serinFixed],
  ] as const;
  const lines = [
    "| run | req/s | p50 ms | p99 ms | errors | non-2xx |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      ([name, f]) =>
        `| ${name} | ${f.requestsPerSecond.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.errors} | ${f.non2xx} |`,
    ),
    "",
    `throughput ratio serin/bare: ${ratio(serinMax.requestsPerSecond, bareMax.requestsPerSecond)} (target >= 0.70)`,
    `p99 at ${rate} req/s: serin ${serinFixed.p99} ms, bare ${bareFixed.p99} ms (target < 5 ms)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  serin.child.kill("SIGTERM");
  bare.child.kill("SIGTERM");
  await rm(certDir, { recursive: true, force: true });
}
