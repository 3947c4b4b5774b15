import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpGet } from "./http.js";
import { freePort, spawnServer, tailFile, waitFor } from "./processes.js";

export interface Prometheus {
  url: string;
  /** An instant query through the HTTP API: the samples of its vector (an error answer throws). */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/** A scrape job besides the default one: HTTPS targets are verified against `ca` (PEM). */
export interface ScrapeJob {
  name: string;
  targets: string[];
  /** A file of targets Prometheus re-reads when it changes (file_sd), instead of `targets`. */
  fileSd?: string;
  https?: { ca: string; serverName: string };
}

export interface PrometheusExtras {
  jobs?: ScrapeJob[];
  /** A rule file's content (`{groups: [...]}`), loaded and evaluated every scrape interval. */
  rules?: unknown;
}

/** Debian's package installs it here; scripts/setup.sh installs the package. */
export const PROMETHEUS_BINARY = "/usr/bin/prometheus";

/**
 * A real Prometheus, scraping `targets` (host:port serving /metrics) every `scrapeIntervalMs`, and the
 * extra jobs; rules, when given, are evaluated at the same interval.
 */
export async function startPrometheus(
  targets: string[],
  scrapeIntervalMs = 500,
  extras: PrometheusExtras = {},
): Promise<Prometheus> {
  if (!existsSync(PROMETHEUS_BINARY)) {
    throw new Error(
      `${PROMETHEUS_BINARY} is missing: run scripts/setup.sh (it installs Debian's prometheus package)`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "serin-prometheus-"));
  const config = join(dir, "prometheus.yml");
  const jobs = await Promise.all(
    (extras.jobs ?? []).map(async (job) => {
      if (job.fileSd) return { job_name: job.name, file_sd_configs: [{ files: [job.fileSd] }] };
      if (!job.https) return { job_name: job.name, static_configs: [{ targets: job.targets }] };
      const caFile = join(dir, `${job.name}-ca.crt`);
      await writeFile(caFile, job.https.ca);
      return {
        job_name: job.name,
        scheme: "https",
        // As a ServiceMonitor with honorLabels: the target's own namespace/name labels are kept.
        honor_labels: true,
        tls_config: { ca_file: caFile, server_name: job.https.serverName },
        static_configs: [{ targets: job.targets }],
      };
    }),
  );
  const ruleFiles: string[] = [];
  if (extras.rules !== undefined) {
    ruleFiles.push(join(dir, "rules.yml"));
    await writeFile(ruleFiles[0] as string, JSON.stringify(extras.rules));
  }
  await writeFile(
    config,
    JSON.stringify({
      global: { scrape_interval: `${scrapeIntervalMs}ms`, evaluation_interval: `${scrapeIntervalMs}ms` },
      rule_files: ruleFiles,
      scrape_configs: [
        ...(targets.length > 0 ? [{ job_name: "linkerd-proxy", static_configs: [{ targets }] }] : []),
        ...jobs,
      ],
    }),
  );
  const port = await freePort();
  const logFile = join(dir, "prometheus.log");
  const server = spawnServer(
    "prometheus",
    PROMETHEUS_BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { logFile },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => ((await httpGet(`${url}/-/ready`)).status === 200 ? true : undefined),
    { timeoutMs: 30_000, what: "Prometheus to be ready" },
    () => {
      const exit = server.exited();
      if (exit) throw new Error(`prometheus exited (${exit.signal ?? exit.code}):\n${tailFile(logFile)}`);
    },
  );
  return {
    url,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query: expr }),
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (answer.status !== "success" || answer.data?.resultType !== "vector")
        throw new Error(
          `Prometheus: ${expr}: ${answer.error ?? `a ${answer.data?.resultType}, not a vector`}`,
        );
      return answer.data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
