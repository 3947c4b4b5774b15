import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import { type PatchOperation, pointer } from "./kube.js";

/**
 * The JSON patch for one guarded write of the Deployment. Replacing metadata.resourceVersion makes
 * the API server refuse it with 409 when the object changed since it was read; the whole template is
 * replaced (a merge patch would keep fields the new template dropped).
 */
export function deploymentWriteOps(
  current: V1Deployment,
  annotations: Record<string, string | null>,
  template?: V1PodTemplateSpec,
  labels: Record<string, string | null> = {},
): PatchOperation[] {
  return [
    {
      op: "replace",
      path: pointer("metadata", "resourceVersion"),
      value: current.metadata?.resourceVersion ?? "",
    },
    ...mapOps("annotations", current.metadata?.annotations, annotations),
    ...mapOps("labels", current.metadata?.labels, labels),
    ...(template ? [{ op: "replace" as const, path: pointer("spec", "template"), value: template }] : []),
  ];
}

/** Sets (string) and removes (null) keys of metadata.annotations or metadata.labels. */
function mapOps(
  field: "annotations" | "labels",
  existing: Record<string, string> | undefined,
  changes: Record<string, string | null>,
): PatchOperation[] {
  const toSet = Object.entries(changes).filter((entry): entry is [string, string] => entry[1] !== null);
  if (!existing) {
    return toSet.length > 0
      ? [{ op: "add", path: pointer("metadata", field), value: Object.fromEntries(toSet) }]
      : [];
  }
  return Object.entries(changes).flatMap(([key, value]): PatchOperation[] => {
    if (value !== null) return [{ op: "add", path: pointer("metadata", field, key), value }];
    return Object.hasOwn(existing, key) ? [{ op: "remove", path: pointer("metadata", field, key) }] : [];
  });
}
