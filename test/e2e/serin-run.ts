import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { httpGet } from "../../src/localcluster/http.js";
import {
  type ControlPlane,
  repoRoot,
  type SerinWebhook,
  startSerinWebhook,
  waitFor,
} from "../harness/index.js";

/** `serin run` as the chart runs it (webhook and watcher in one process), for end-to-end tests. */

/** The chart's ServiceAccount, RBAC and Lease, applied as `helm install` would; the service account's kubeconfig. */
export async function applyChartAccess(cp: ControlPlane): Promise<string> {
  assert.equal((await cp.kubectl(["create", "namespace", "serin-system"])).code, 0);
  const rendered = await cp.helm(3, ["template", "serin", `${repoRoot}/charts/serin`, "-n", "serin-system"]);
  assert.equal(rendered.code, 0, rendered.stderr);
  const kinds = new Set([
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Lease",
  ]);
  const access = parseAllDocuments(rendered.stdout)
    .map((document) => document.toJSON() as { kind?: string } | null)
    .filter((object) => object?.kind !== undefined && kinds.has(object.kind));
  const applied = await cp.kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: access }),
  });
  assert.equal(applied.code, 0, applied.stderr);
  return cp.serviceAccountKubeconfig("serin-system", "serin");
}

/** One replica of `serin run --leader-elect` as the chart's service account; resolves once it listens. */
export function startRunReplica(
  cp: ControlPlane,
  kubeconfig: string,
  args: string[] = [],
): Promise<SerinWebhook> {
  return startSerinWebhook(cp, {
    command: "run",
    waitFor: "listening",
    args: ["--kubeconfig", kubeconfig, "--leader-elect", "--lease-namespace", "serin-system", ...args],
  });
}

/** GET one of the replica's HTTPS paths: its status code. */
export async function probe(replica: SerinWebhook, path: string): Promise<number> {
  return (await httpGet(`https://127.0.0.1:${replica.port}${path}`, { ca: replica.caBundle })).status;
}

export const logged = (replica: SerinWebhook, message: string): boolean =>
  replica.logs().some((line) => line.includes(`"msg":"${message}"`));

export async function waitForLog(replica: SerinWebhook, message: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (logged(replica, message) ? true : undefined), {
    timeoutMs,
    what: `serin run on port ${replica.port} to log "${message}"`,
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The replica's /metrics, parsed from Prometheus' text format. */
export async function scrape(replica: SerinWebhook): Promise<Sample[]> {
  const answer = await httpGet(`https://127.0.0.1:${replica.port}/metrics`, { ca: replica.caBundle });
  assert.equal(answer.status, 200);
  const samples: Sample[] = [];
  for (const line of answer.body.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_all, c: string) =>
        c === "n" ? "\n" : c,
      );
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The metric families the replica declares (# TYPE), samples or not: a labelled counter not yet counted has none. */
export async function families(replica: SerinWebhook): Promise<Map<string, string>> {
  const answer = await httpGet(`https://127.0.0.1:${replica.port}/metrics`, { ca: replica.caBundle });
  assert.equal(answer.status, 200);
  return new Map(
    [...answer.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [
      match[1] as string,
      match[2] as string,
    ]),
  );
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}
