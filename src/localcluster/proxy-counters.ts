import { type Draws, normalQuantile } from "./sampling.js";

/**
 * The counters one Linkerd proxy keeps for the inbound side of one pod, as the model of the traffic
 * fills them: `request_total`, `response_total` by status code and classification, and the
 * `response_latency_ms` histogram with the same response labels. As in the proxy, a label set appears
 * only once a request with it has been seen, counts are whole numbers, and buckets are Linkerd's.
 * Pure: requests in, counters and exposition text out. No proxy runs here.
 */

/** Upper bounds of linkerd2-proxy's latency buckets, in milliseconds (then +Inf). */
export const LATENCY_BOUNDS_MS = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1_000, 2_000, 3_000, 4_000, 5_000, 10_000,
  20_000, 30_000, 40_000, 50_000,
] as const;

/** A latency distribution: log-normal, given by its median and its 99th percentile (equal: constant). */
export interface Latency {
  medianMs: number;
  p99Ms: number;
}

/** How one version answers: the share of responses that succeed, and how long each takes. */
export interface Behaviour {
  /** 0..1; a failure is answered 500, a success 200 (Linkerd classifies by status: 5xx fail). */
  successRatio: number;
  latency: Latency;
}

interface ResponseSeries {
  count: number;
  /** Responses per bucket index (not cumulative); the last index is above the largest bound. */
  buckets: number[];
  sumMs: number;
}

export interface ProxyCounters {
  requests: number;
  success?: ResponseSeries;
  failure?: ResponseSeries;
}

/**
 * What serving a batch of requests did: how many failed or were slow, and where in the interval the
 * first request, the first failure and the first slow response arrived (0..1; undefined when none).
 */
export interface Served {
  failures: number;
  slow: number;
  first?: number;
  firstFailure?: number;
  firstSlow?: number;
}

const Z99 = normalQuantile(0.99);

export function checkBehaviour(behaviour: Behaviour): void {
  const { successRatio, latency } = behaviour;
  if (!(successRatio >= 0 && successRatio <= 1))
    throw new RangeError(`successRatio must be within 0..1, got ${successRatio}`);
  if (!(latency.medianMs > 0 && latency.p99Ms >= latency.medianMs && Number.isFinite(latency.p99Ms)))
    throw new RangeError(
      `latency needs 0 < medianMs <= p99Ms, got median ${latency.medianMs} and p99 ${latency.p99Ms}`,
    );
}

/** The latency at quantile `u` of the distribution. */
export function latencyAt(latency: Latency, u: number): number {
  const sigma = Math.log(latency.p99Ms / latency.medianMs) / Z99;
  return sigma === 0 ? latency.medianMs : latency.medianMs * Math.exp(sigma * normalQuantile(u));
}

/** Index of the first bucket whose bound holds `ms` (LATENCY_BOUNDS_MS.length for above them all). */
export function bucketIndex(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BOUNDS_MS.length : index;
}

/**
 * Serves `requests` requests: each arrives at a position drawn within the interval, fails with
 * probability 1 - successRatio, and takes a latency drawn from the distribution; one slower than
 * `slowMs` counts as slow.
 */
export function serve(
  counters: ProxyCounters,
  behaviour: Behaviour,
  requests: number,
  draws: Draws,
  slowMs = Number.POSITIVE_INFINITY,
): Served {
  if (!(Number.isInteger(requests) && requests >= 0))
    throw new RangeError(`requests must be a whole number >= 0, got ${requests}`);
  counters.requests += requests;
  const served: Served = { failures: 0, slow: 0 };
  const earliest = (key: "first" | "firstFailure" | "firstSlow", at: number) => {
    const seen = served[key];
    if (seen === undefined || at < seen) served[key] = at;
  };
  for (let i = 0; i < requests; i++) {
    const at = draws.uniform();
    const failed = draws.uniform() >= behaviour.successRatio;
    const latencyMs = latencyAt(behaviour.latency, draws.uniform());
    const kind = failed ? "failure" : "success";
    const series = counters[kind] ?? newSeries();
    counters[kind] = series;
    series.count += 1;
    series.sumMs += latencyMs;
    const index = bucketIndex(latencyMs);
    series.buckets[index] = (series.buckets[index] ?? 0) + 1;
    earliest("first", at);
    if (failed) {
      served.failures += 1;
      earliest("firstFailure", at);
    }
    if (latencyMs > slowMs) {
      served.slow += 1;
      earliest("firstSlow", at);
    }
  }
  return served;
}

function newSeries(): ResponseSeries {
  return { count: 0, buckets: [], sumMs: 0 };
}

/**
 * The pod's identity as Linkerd's metrics carry it: the proxy's own inbound labels, and those
 * linkerd-viz's Prometheus adds from the pod's metadata when it scrapes it.
 */
export interface PodIdentity {
  namespace: string;
  deployment: string;
  pod: string;
  podTemplateHash: string;
  serviceAccount: string;
  podIp: string;
  port: number;
}

/** Label values are escaped as the text format wants them. */
const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function labelText(labels: readonly (readonly [string, string])[]): string {
  return labels.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",");
}

/** Labels every inbound series of the pod has, in the order a proxy and a linkerd-viz scrape give them. */
export function inboundLabels(pod: PodIdentity): [string, string][] {
  const port = String(pod.port);
  return [
    ["direction", "inbound"],
    ["target_addr", `${pod.podIp}:${port}`],
    ["target_ip", pod.podIp],
    ["target_port", port],
    ["tls", "true"],
    ["client_id", `default.${pod.namespace}.serviceaccount.identity.linkerd.cluster.local`],
    ["srv_group", ""],
    ["srv_kind", "default"],
    ["srv_name", "all-unauthenticated"],
    ["srv_port", port],
    ["route_group", ""],
    ["route_kind", "default"],
    ["route_name", "default"],
    ["authz_group", ""],
    ["authz_kind", "default"],
    ["authz_name", "all-unauthenticated"],
    // Added by linkerd-viz's scrape configuration from the pod and its linkerd.io/* labels.
    ["namespace", pod.namespace],
    ["pod", pod.pod],
    ["control_plane_ns", "linkerd"],
    ["deployment", pod.deployment],
    ["pod_template_hash", pod.podTemplateHash],
    ["serviceaccount", pod.serviceAccount],
  ];
}

const RESPONSE = {
  success: { statusCode: "200", classification: "success" },
  failure: { statusCode: "500", classification: "failure" },
} as const;

/** The pod's series in the text exposition format, one per line (the TYPE lines are TYPE_LINES). */
export function expositionLines(counters: ProxyCounters, pod: PodIdentity): string[] {
  // A pod that has served nothing has no series at all, as a proxy that has seen no request.
  if (counters.requests === 0) return [];
  const base = labelText(inboundLabels(pod));
  const lines = [`request_total{${base}} ${counters.requests}`];
  for (const kind of ["success", "failure"] as const) {
    const series = counters[kind];
    if (!series) continue;
    const { statusCode, classification } = RESPONSE[kind];
    const labels = `${base},status_code="${statusCode}",classification="${classification}",grpc_status="",error=""`;
    lines.push(`response_total{${labels}} ${series.count}`);
    let cumulative = 0;
    for (const [index, bound] of [...LATENCY_BOUNDS_MS, "+Inf" as const].entries()) {
      cumulative += series.buckets[index] ?? 0;
      lines.push(`response_latency_ms_bucket{${labels},le="${bound}"} ${cumulative}`);
    }
    lines.push(`response_latency_ms_sum{${labels}} ${Number(series.sumMs.toFixed(3))}`);
    lines.push(`response_latency_ms_count{${labels}} ${series.count}`);
  }
  return lines;
}

export const TYPE_LINES = [
  "# TYPE request_total counter",
  "# TYPE response_total counter",
  "# TYPE response_latency_ms histogram",
];
