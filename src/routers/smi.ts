import { quantityValue } from "./quantity.js";
import {
  type BackendNames,
  backendNamesFor,
  isRecord,
  newMetadata,
  type RouteObject,
  repairMetadata,
} from "./route-object.js";
import type { RouteTarget, Weights } from "./router.js";
import { toWeights } from "./weights.js";

/** SMI TrafficSplit: the pure half (object in, object out); SmiRouter in smi-router.ts does the I/O. */

export const SMI_GROUP = "split.smi-spec.io";
export const TRAFFIC_SPLIT_PLURAL = "trafficsplits";

/** Newest first: discovery takes the first one the cluster serves. */
export const SMI_VERSIONS = ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"] as const;
export type SmiVersion = (typeof SMI_VERSIONS)[number];

export interface TrafficSplitBackend {
  service: string;
  /** v1alpha1 allows a quantity string ("500m"); serin always writes an integer out of WEIGHT_SCALE. */
  weight: number | string;
  [field: string]: unknown;
}

export interface TrafficSplitSpec {
  service: string;
  backends: TrafficSplitBackend[];
  [field: string]: unknown;
}

export type TrafficSplit = RouteObject<TrafficSplitSpec>;

function backends(target: BackendNames, weights: Weights): [TrafficSplitBackend, TrafficSplitBackend] {
  return [
    { service: target.stableService, weight: weights.stable },
    { service: target.canaryService, weight: weights.canary },
  ];
}

/** A new TrafficSplit for the target, both backends present even at weight 0. */
export function trafficSplitBody(target: RouteTarget, weights: Weights, version: SmiVersion): TrafficSplit {
  return {
    apiVersion: `${SMI_GROUP}/${version}`,
    kind: "TrafficSplit",
    metadata: newMetadata(target),
    spec: { service: target.service, backends: backends(target, weights) },
  };
}

/**
 * The existing TrafficSplit as serin wants it: the target's apex service, exactly the two backends at
 * the given weights (a third backend would take a share serin does not control), serin's labels and
 * owner. Everything else, resourceVersion included, is kept so the write is guarded by it.
 */
export function repairTrafficSplit(
  existing: TrafficSplit,
  target: RouteTarget,
  weights: Weights,
  version: SmiVersion,
): TrafficSplit {
  const spec: unknown = existing.spec;
  const previous = isRecord(spec) && Array.isArray(spec.backends) ? spec.backends.filter(isRecord) : [];
  const keep = (name: string) => previous.find((backend) => backend.service === name) ?? {};
  const [stable, canary] = backends(target, weights);
  return {
    ...existing,
    apiVersion: `${SMI_GROUP}/${version}`,
    kind: "TrafficSplit",
    metadata: repairMetadata(existing.metadata ?? {}, target),
    spec: {
      ...(isRecord(spec) ? spec : {}),
      service: target.service,
      backends: [
        { ...keep(target.stableService), ...stable },
        { ...keep(target.canaryService), ...canary },
      ],
    },
  };
}

/**
 * The weights a TrafficSplit gives the two backends, whatever order they are in and whether they are
 * integers or quantity strings; a missing backend counts as weight 0. Names default to the ones serin
 * derives from `spec.service`.
 */
export function readTrafficSplitWeights(object: unknown, names?: BackendNames): Weights {
  const spec = isRecord(object) && isRecord(object.spec) ? object.spec : {};
  const wanted = names ?? backendNamesFor(typeof spec.service === "string" ? spec.service : "");
  const list = Array.isArray(spec.backends) ? spec.backends.filter(isRecord) : [];
  const weightOf = (name: string): number => {
    const backend = list.find((entry) => entry.service === name);
    if (!backend || backend.weight === undefined || backend.weight === null) return 0;
    try {
      return quantityValue(backend.weight);
    } catch (error) {
      throw new Error(`TrafficSplit backend ${name} has an unreadable weight: ${(error as Error).message}`);
    }
  };
  return toWeights(weightOf(wanted.stableService), weightOf(wanted.canaryService));
}
