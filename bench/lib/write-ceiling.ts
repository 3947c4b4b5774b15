// How many small writes a second this apiserver takes on this machine: W writers, each a JSON merge PATCH
// of one annotation on a ConfigMap of its own, back to back for S seconds, over keep-alive connections, as a
// service account of their own (API Priority and Fairness treats it as it treats serin's: the suggested
// "service-accounts" schema, priority level workload-low).
import { performance } from "node:perf_hooks";
import type { ControlPlane } from "../../src/localcluster/index.js";
import { flowSchemaTotal } from "./apf.js";
import { keepAliveClient } from "./keep-alive.js";
import { type Summary, summarize } from "./stats.js";

const NAMESPACE = "bench-ceiling";
const WRITER = "ceiling-writer";
const WARMUP_MS = 2_000;
/** The suggested FlowSchema every service account outside kube-system falls into. */
const FLOW_SCHEMA = "service-accounts";

export interface Ceiling {
  writers: number;
  windowS: number;
  writes: number;
  failed: number;
  perSecond: number;
  /** Latency of one write, ms. */
  latency: Summary;
  /** CPU over the window by process, in cores (1 = one core busy the whole window). */
  cores: Record<string, number>;
  /** What API Priority and Fairness did to the writes: mean queue wait (ms) and 429s. */
  apf: { meanWaitMs: number; rejected: number };
}

async function apfCounters(cp: ControlPlane) {
  const { status, body } = await cp.get("/metrics");
  if (status !== 200) throw new Error(`GET /metrics answered ${status}`);
  const total = (metric: string) => flowSchemaTotal(body, metric, FLOW_SCHEMA);
  return {
    waitSum: total("apiserver_flowcontrol_request_wait_duration_seconds_sum"),
    waitCount: total("apiserver_flowcontrol_request_wait_duration_seconds_count"),
    rejected: total("apiserver_flowcontrol_rejected_requests_total"),
  };
}

function setupManifests(writers: number) {
  const configMaps = Array.from({ length: writers }, (_, index) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `ceiling-${index}`, namespace: NAMESPACE },
    data: { purpose: "write-ceiling" },
  }));
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: WRITER, namespace: NAMESPACE } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: WRITER, namespace: NAMESPACE },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "patch"] }],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: WRITER, namespace: NAMESPACE },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: WRITER },
        subjects: [{ kind: "ServiceAccount", name: WRITER, namespace: NAMESPACE }],
      },
      ...configMaps,
    ],
  };
}

/**
 * Runs the writers for `seconds` after a short warm-up (connections opened, caches filled) and reads
 * `cpuSeconds` (CPU seconds used so far, by process name) at both ends of the measured window.
 */
export async function measureWriteCeiling(
  cp: ControlPlane,
  options: { writers: number; seconds: number },
  cpuSeconds: () => Record<string, number>,
): Promise<Ceiling> {
  const { writers, seconds } = options;
  if (!(Number.isInteger(writers) && writers >= 1 && writers <= 512))
    throw new Error(`the ceiling's writers must be 1 to 512, got ${writers}`);
  if (!(seconds > 0 && seconds <= 600))
    throw new Error(`the ceiling's window must be 0 to 600 s, got ${seconds}`);
  const created = await cp.kubectl(["create", "namespace", NAMESPACE]);
  if (created.code !== 0) throw new Error(created.stderr);
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(setupManifests(writers)) });
  if (applied.code !== 0) throw new Error(applied.stderr);
  const client = await keepAliveClient(
    cp.kubeConfig(await cp.serviceAccountKubeconfig(NAMESPACE, WRITER)),
    writers,
  );
  try {
    let counting = false;
    let writes = 0;
    let failed = 0;
    const latencies: number[] = [];
    const run = async (untilMs: number) =>
      Promise.all(
        Array.from({ length: writers }, async (_, index) => {
          const path = `/api/v1/namespaces/${NAMESPACE}/configmaps/ceiling-${index}`;
          for (let n = 0; performance.now() < untilMs; n++) {
            const body = { metadata: { annotations: { "bench.serin.dev/write": String(n) } } };
            const sent = performance.now();
            try {
              await client.patch(path, body);
              if (!counting) continue;
              writes += 1;
              latencies.push(performance.now() - sent);
            } catch {
              if (counting) failed += 1;
            }
          }
        }),
      );
    await run(performance.now() + WARMUP_MS);
    counting = true;
    const apfBefore = await apfCounters(cp);
    const before = cpuSeconds();
    const start = performance.now();
    await run(start + seconds * 1000);
    const windowS = (performance.now() - start) / 1000;
    const after = cpuSeconds();
    const apfAfter = await apfCounters(cp);
    const cores = Object.fromEntries(
      Object.keys(after).map((name) => [name, ((after[name] ?? 0) - (before[name] ?? 0)) / windowS]),
    );
    return {
      writers,
      windowS,
      writes,
      failed,
      perSecond: writes / windowS,
      latency: summarize(latencies),
      cores,
      apf: {
        meanWaitMs:
          ((apfAfter.waitSum - apfBefore.waitSum) / Math.max(1, apfAfter.waitCount - apfBefore.waitCount)) *
          1000,
        rejected: apfAfter.rejected - apfBefore.rejected,
      },
    };
  } finally {
    client.close();
  }
}
