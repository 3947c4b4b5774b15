import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpGet } from "./http.js";
import { freePort, spawnServer, tailFile, waitFor } from "./processes.js";

export interface Prometheus {
  url: string;
  stop(): Promise<void>;
}

/** Debian's package installs it here; scripts/setup.sh installs the package. */
export const PROMETHEUS_BINARY = "/usr/bin/prometheus";

/** A real Prometheus, scraping `targets` (host:port serving /metrics) every `scrapeIntervalMs`. */
export async function startPrometheus(targets: string[], scrapeIntervalMs = 500): Promise<Prometheus> {
  if (!existsSync(PROMETHEUS_BINARY)) {
    throw new Error(
      `${PROMETHEUS_BINARY} is missing: run scripts/setup.sh (it installs Debian's prometheus package)`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "serin-prometheus-"));
  const config = join(dir, "prometheus.yml");
  await writeFile(
    config,
    JSON.stringify({
      global: { scrape_interval: `${scrapeIntervalMs}ms`, evaluation_interval: `${scrapeIntervalMs}ms` },
      scrape_configs: [{ job_name: "linkerd-proxy", static_configs: [{ targets }] }],
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
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
