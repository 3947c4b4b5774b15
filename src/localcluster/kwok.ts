// kwok in the local cluster: one fake Node that kwok keeps Ready, and pods on it that become Running and
// Ready as a kubelet would report them, driven by the stage definitions kwok's own module ships.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";

/** The Node kwok manages; pods are scheduled onto it by the real kube-scheduler. */
export const KWOK_NODE = "kwok-node-0";
/** The annotation that marks Nodes as kwok's (`--manage-nodes-with-annotation-selector`). */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

/**
 * A pod-template annotation kwok is told to disregard: pods that carry it are scheduled but never become
 * Ready, as when an image cannot be pulled. Tests put it on a revision to keep its canary unready.
 */
export const UNREADY_ANNOTATION = "kwok.serin.dev/never-ready";

/** kwok's stage files, as the build script copies them from the module (kustomize/stage/). */
const KWOK_STAGE_FILES = [
  "node-initialize.yaml",
  "node-heartbeat-with-lease.yaml",
  "pod-ready.yaml",
  "pod-complete.yaml",
  "pod-delete.yaml",
] as const;

interface Stage {
  metadata: { name: string };
  spec: { selector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] } };
}

/** kwok's own stages, with pod-ready told to leave pods that carry UNREADY_ANNOTATION alone. */
function localStages(stages: readonly Stage[]): Stage[] {
  return stages.map((stage) => {
    if (stage.metadata.name !== "pod-ready") return stage;
    const matchExpressions = [
      ...(stage.spec.selector?.matchExpressions ?? []),
      { key: `.metadata.annotations["${UNREADY_ANNOTATION}"]`, operator: "DoesNotExist" },
    ];
    return { ...stage, spec: { ...stage.spec, selector: { ...stage.spec.selector, matchExpressions } } };
  });
}

/** The `--config` file for kwok: every stage, as one multi-document YAML (kwok's options stay its defaults). */
export async function kwokConfig(stagesDir: string): Promise<string> {
  const stages: Stage[] = [];
  for (const file of KWOK_STAGE_FILES) {
    const text = await readFile(join(stagesDir, file), "utf8");
    for (const document of parseAllDocuments(text)) {
      const stage = document.toJS() as Stage | null;
      if (stage) stages.push(stage);
    }
  }
  return localStages(stages)
    .map((document) => stringify(document))
    .join("---\n");
}

/** The ClusterRole kwok needs and its binding to the user `kwok-controller`, kwok's identity here. */
export function kwokRbac(user: string): string {
  const role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "kwok-controller" },
    rules: [
      {
        apiGroups: [""],
        resources: ["nodes", "pods"],
        verbs: ["get", "list", "watch", "patch", "update", "delete"],
      },
      { apiGroups: [""], resources: ["nodes/status", "pods/status"], verbs: ["get", "patch", "update"] },
      { apiGroups: [""], resources: ["events"], verbs: ["create", "patch", "update"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
    ],
  };
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "kwok-controller" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "kwok-controller" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
  };
  return `${JSON.stringify(role)}\n${JSON.stringify(binding)}\n`;
}

/** The fake Node, created before kwok starts; kwok's node-initialize stage makes it Ready. */
export function kwokNode(): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: KWOK_NODE,
      annotations: { [KWOK_NODE_ANNOTATION]: "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": KWOK_NODE,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
      },
    },
  });
}
