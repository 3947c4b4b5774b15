import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Metrics shaped like the Linkerd proxy's (`response_total`, `response_latency_ms_bucket`, with the
 * labels Linkerd puts on them), for a real Prometheus to scrape. No mesh runs here: a test or the demo
 * says how much traffic a Deployment serves and how well, and the counters grow accordingly over time.
 */
export interface Traffic {
  requestsPerSecond: number;
  /** Share of responses classified "success", 0..1. */
  successRatio: number;
  /** Every response takes this long. */
  latencyMs: number;
}

export interface LinkerdMetrics {
  /** host:port for Prometheus' static_configs. */
  target: string;
  setTraffic(namespace: string, deployment: string, traffic: Traffic): void;
  stop(): Promise<void>;
}

// Linkerd's latency histogram buckets, in milliseconds.
const BUCKETS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 10_000,
];

interface Series {
  traffic: Traffic;
  since: number;
  success: number;
  failure: number;
  latencySum: number;
  /** Count of responses per bucket index (the first bucket whose bound they fit under). */
  byBucket: number[];
}

export async function startLinkerdMetrics(): Promise<LinkerdMetrics> {
  const series = new Map<string, Series>();

  /** Brings a series' counters up to now at its current rate. */
  const advance = (entry: Series, now: number) => {
    const requests = (entry.traffic.requestsPerSecond * (now - entry.since)) / 1000;
    entry.since = now;
    entry.success += requests * entry.traffic.successRatio;
    entry.failure += requests * (1 - entry.traffic.successRatio);
    entry.latencySum += requests * entry.traffic.latencyMs;
    const bucket = BUCKETS.findIndex((bound) => entry.traffic.latencyMs <= bound);
    const index = bucket === -1 ? BUCKETS.length : bucket;
    entry.byBucket[index] = (entry.byBucket[index] ?? 0) + requests;
  };

  const exposition = () => {
    const now = Date.now();
    const lines = ["# TYPE response_total counter", "# TYPE response_latency_ms histogram"];
    for (const [key, entry] of series) {
      advance(entry, now);
      const [namespace, deployment] = key.split("/");
      const labels = `direction="inbound",namespace="${namespace}",deployment="${deployment}",pod="${deployment}-0",tls="true"`;
      lines.push(`response_total{${labels},classification="success",status_code="200"} ${entry.success}`);
      lines.push(`response_total{${labels},classification="failure",status_code="500"} ${entry.failure}`);
      let cumulative = 0;
      for (const [index, bound] of [...BUCKETS, Number.POSITIVE_INFINITY].entries()) {
        cumulative += entry.byBucket[index] ?? 0;
        lines.push(
          `response_latency_ms_bucket{${labels},le="${bound === Number.POSITIVE_INFINITY ? "+Inf" : bound}"} ${cumulative}`,
        );
      }
      lines.push(`response_latency_ms_sum{${labels}} ${entry.latencySum}`);
      lines.push(`response_latency_ms_count{${labels}} ${cumulative}`);
    }
    return `${lines.join("\n")}\n`;
  };

  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(exposition());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    setTraffic(namespace, deployment, traffic) {
      const key = `${namespace}/${deployment}`;
      const existing = series.get(key);
      if (existing) {
        advance(existing, Date.now());
        existing.traffic = traffic;
      } else {
        series.set(key, { traffic, since: Date.now(), success: 0, failure: 0, latencySum: 0, byBucket: [] });
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
