import type { V1OwnerReference } from "@kubernetes/client-node";
import type { RouteTarget } from "./router.js";

/** What serin sets in the metadata of a route object; everything else there belongs to the apiserver. */
export interface RouteMetadata {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  ownerReferences?: V1OwnerReference[];
  resourceVersion?: string;
  [field: string]: unknown;
}

/** A custom object as read: the fields serin writes are typed, the rest is kept as it came. */
export interface RouteObject<Spec> {
  apiVersion: string;
  kind: string;
  metadata: RouteMetadata;
  spec: Spec;
  [field: string]: unknown;
}

/** The same value without `undefined` members, as it would come back from the apiserver. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function newMetadata(target: RouteTarget): RouteMetadata {
  return plain({
    name: target.service,
    namespace: target.namespace,
    labels: { ...target.labels },
    ownerReferences: [target.owner],
  });
}

/** Existing metadata with serin's labels and owner in place; other labels and owners are left alone. */
export function repairMetadata(existing: RouteMetadata, target: RouteTarget): RouteMetadata {
  const owner = plain(target.owner);
  const owners = existing.ownerReferences ?? [];
  const ours = owners.findIndex((ref) => ref.uid === owner.uid);
  const repaired: RouteMetadata = {
    ...existing,
    ownerReferences: ours === -1 ? [...owners, owner] : owners.map((ref, i) => (i === ours ? owner : ref)),
  };
  if (Object.keys(target.labels).length > 0) repaired.labels = { ...existing.labels, ...target.labels };
  return repaired;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The two backend Services a route splits between. */
export type BackendNames = Pick<RouteTarget, "stableService" | "canaryService">;

/** The backend names serin gives a route on `service` (DESIGN.md: `<service>-stable`, `<service>-canary`). */
export function backendNamesFor(service: string): BackendNames {
  return { stableService: `${service}-stable`, canaryService: `${service}-canary` };
}
