// cert-manager on the local cluster: its CRDs, then its controller and CA injector as processes, built
// from the pinned release by scripts/build-controlplane.sh. Each runs under an identity of its own with
// the RBAC it needs, as kwok does, and holds a Lease in the namespace `cert-manager`.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";
import { installCrdFiles } from "./crds.js";
import { type ServerProcess, spawnServer, tailFile, waitFor } from "./processes.js";

/** Where the two Leases live (and ClusterIssuers' Secrets would). */
export const CERT_MANAGER_NAMESPACE = "cert-manager";

export const CERT_MANAGER_USERS = {
  controller: "cert-manager-controller",
  cainjector: "cert-manager-cainjector",
} as const;

/** The Leases each holds while it works; their names are the release's. */
const LEASES = {
  controller: "cert-manager-controller",
  cainjector: "cert-manager-cainjector-leader-election",
} as const;

export interface CertManager {
  /** The controller's and the injector's log files, for failing tests. */
  readonly logFiles: { controller: string; cainjector: string };
  stop(): Promise<void>;
}

const all = ["get", "list", "watch", "create", "update", "patch", "delete"];
const read = ["get", "list", "watch"];

/** The ClusterRoles, bindings and Lease Role of the two identities. */
export function certManagerRbac(): object[] {
  const rule = (apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]) => ({
    apiGroups,
    resources,
    verbs,
    ...(resourceNames ? { resourceNames } : {}),
  });
  const controller = [
    rule(
      ["cert-manager.io"],
      ["certificates", "certificaterequests", "issuers", "clusterissuers"],
      [...all, "deletecollection"],
    ),
    rule(
      ["cert-manager.io"],
      [
        "certificates/status",
        "certificaterequests/status",
        "issuers/status",
        "clusterissuers/status",
        "certificates/finalizers",
        "certificaterequests/finalizers",
      ],
      ["get", "update", "patch"],
    ),
    // Approving requests for cert-manager's own issuer types, as its chart grants.
    rule(
      ["cert-manager.io"],
      ["signers"],
      ["approve"],
      ["issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"],
    ),
    rule([""], ["secrets"], all),
    rule([""], ["events"], ["create", "patch"]),
  ];
  const cainjector = [
    rule(["cert-manager.io"], ["certificates"], read),
    rule([""], ["secrets"], read),
    rule([""], ["events"], ["create", "patch"]),
    rule(
      ["admissionregistration.k8s.io"],
      ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
      [...read, "update", "patch"],
    ),
    rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], [...read, "update", "patch"]),
  ];
  const objects: object[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: CERT_MANAGER_NAMESPACE } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "cert-manager-leases", namespace: CERT_MANAGER_NAMESPACE },
      rules: [
        rule(["coordination.k8s.io"], ["leases"], ["get", "create", "update", "patch"]),
        rule([""], ["events"], ["create", "patch"]),
      ],
    },
  ];
  for (const [name, rules] of [
    [CERT_MANAGER_USERS.controller, controller],
    [CERT_MANAGER_USERS.cainjector, cainjector],
  ] as const) {
    const subjects = [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name }];
    objects.push(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name }, rules },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects,
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: `${name}-leases`, namespace: CERT_MANAGER_NAMESPACE },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cert-manager-leases" },
        subjects,
      },
    );
  }
  return objects;
}

/**
 * Installs cert-manager's CRDs and RBAC, starts its controller and CA injector, and resolves once both
 * hold their Leases (the control loops are running). `cp.stop()` stops them too.
 */
export async function startCertManager(cp: ControlPlane): Promise<CertManager> {
  const binaries = cp.binaries.certManager;
  if (!binaries) {
    throw new Error("paths.env names no CERT_MANAGER_CONTROLLER: rerun scripts/build-controlplane.sh");
  }
  const crdFiles = (await readdir(binaries.crds))
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .map((file) => join(binaries.crds, file));
  await installCrdFiles(cp, crdFiles);
  const applied = await cp.kubectl(["apply", "-f", "-"], {
    input: certManagerRbac()
      .map((object) => JSON.stringify(object))
      .join("\n"),
  });
  if (applied.code !== 0) throw new Error(`creating cert-manager's RBAC failed: ${applied.stderr.trim()}`);

  const [controllerKubeconfig, cainjectorKubeconfig] = await Promise.all([
    cp.kubeconfigFor(CERT_MANAGER_USERS.controller),
    cp.kubeconfigFor(CERT_MANAGER_USERS.cainjector),
  ]);
  const logFiles = {
    controller: join(cp.dir, "cert-manager-controller.log"),
    cainjector: join(cp.dir, "cert-manager-cainjector.log"),
  };
  const common = [`--leader-election-namespace=${CERT_MANAGER_NAMESPACE}`, "--v=2"];
  const processes: ServerProcess[] = [
    spawnServer(
      "cert-manager-controller",
      binaries.controller,
      [`--kubeconfig=${controllerKubeconfig}`, ...common],
      { logFile: logFiles.controller, pidFile: join(cp.dir, "cert-manager-controller.pid") },
    ),
    spawnServer(
      "cert-manager-cainjector",
      binaries.cainjector,
      [`--kubeconfig=${cainjectorKubeconfig}`, ...common],
      { logFile: logFiles.cainjector, pidFile: join(cp.dir, "cert-manager-cainjector.pid") },
    ),
  ];
  let stopping: Promise<void> | undefined;
  const certManager: CertManager = {
    logFiles,
    stop() {
      stopping ??= Promise.all(processes.map((process) => process.stop())).then(() => undefined);
      return stopping;
    },
  };
  cp.onStop(() => certManager.stop());

  const exitedEarly = () => {
    for (const process of processes) {
      const exit = process.exited();
      if (exit) {
        throw new Error(
          `${process.name} exited (${exit.error ?? exit.signal ?? exit.code}); last lines of ${process.logFile}:\n${tailFile(process.logFile)}`,
        );
      }
    }
  };
  for (const lease of Object.values(LEASES)) {
    await waitFor(
      async () => {
        const { status, body } = await cp.get(
          `/apis/coordination.k8s.io/v1/namespaces/${CERT_MANAGER_NAMESPACE}/leases/${lease}`,
        );
        if (status !== 200) throw new Error(`GET Lease ${lease} answered ${status}`);
        const holder = (JSON.parse(body) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity;
        return holder ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `cert-manager's Lease ${lease} to be held` },
      exitedEarly,
    );
  }
  return certManager;
}
