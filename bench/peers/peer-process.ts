// What both peers need around their binary: a namespace, a service account bound to cluster-admin (the
// request counts do not depend on how narrow the RBAC is), and the process itself under that identity.
import { join } from "node:path";
import { type ControlPlane, freePort, waitFor } from "../../src/localcluster/index.js";
import { spawnServer, tailFile } from "../../src/localcluster/processes.js";
import type { App, RunningController } from "./contender.js";

export async function grantClusterAdmin(cp: ControlPlane, account: App): Promise<string> {
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: account.namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `bench-${account.name}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: account.name, namespace: account.namespace }],
    },
  ];
  const applied = await cp.kubectl(["apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
  });
  if (applied.code !== 0) throw new Error(`RBAC for ${account.name}: ${applied.stderr.trim()}`);
  return cp.serviceAccountKubeconfig(account.namespace, account.name);
}

/**
 * Starts a peer's binary (its pid recorded in the control plane's dir, so the orphan guard kills it) and
 * resolves once its log shows `started`, or throws with the log's tail if it exits first.
 */
export async function startPeerProcess(
  cp: ControlPlane,
  name: string,
  binary: string,
  args: (ports: number[]) => string[],
  logFile: string,
  started: RegExp,
): Promise<RunningController> {
  const ports = [await freePort(), await freePort()];
  const server = spawnServer(name, binary, args(ports), { logFile, pidFile: join(cp.dir, `${name}.pid`) });
  const pid = server.child.pid;
  if (pid === undefined) throw new Error(`${name} did not start: ${server.exited()?.error ?? "no pid"}`);
  cp.onStop(() => server.stop());
  await waitFor(
    async () => (started.test(tailFile(logFile, 400)) ? true : undefined),
    { timeoutMs: 60_000, intervalMs: 250, what: `${name} to log ${started}` },
    () => {
      const exit = server.exited();
      if (exit) throw new Error(`${name} exited (${exit.signal ?? exit.code}):\n${tailFile(logFile)}`);
    },
  );
  return { pids: () => [pid], stop: () => server.stop() };
}
