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
): PatchOperation[] {
  const ops: PatchOperation[] = [
    {
      op: "replace",
      path: pointer("metadata", "resourceVersion"),
      value: current.metadata?.resourceVersion ?? "",
    },
  ];
  const existing = current.metadata?.annotations;
  const toSet = Object.entries(annotations).filter(([, value]) => value !== null) as [string, string][];
  if (!existing) {
    if (toSet.length > 0)
      ops.push({ op: "add", path: pointer("metadata", "annotations"), value: Object.fromEntries(toSet) });
  } else {
    for (const [key, value] of Object.entries(annotations)) {
      if (value === null) {
        if (Object.hasOwn(existing, key))
          ops.push({ op: "remove", path: pointer("metadata", "annotations", key) });
      } else {
        ops.push({ op: "add", path: pointer("metadata", "annotations", key), value });
      }
    }
  }
  if (template) ops.push({ op: "replace", path: pointer("spec", "template"), value: template });
  return ops;
}
