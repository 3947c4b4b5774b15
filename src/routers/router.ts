import type { V1OwnerReference } from "@kubernetes/client-node";

/**
 * One interface for every traffic API serin can steer (Flagger's router shape). Implementations keep
 * no state: every call re-reads the object it works on.
 */

/** Shares out of WEIGHT_SCALE (10000); stable + canary is always WEIGHT_SCALE. */
export interface Weights {
  stable: number;
  canary: number;
}

/** What a route object is for: the apex Service of one enabled Deployment and its two backends. */
export interface RouteTarget {
  namespace: string;
  /** Apex Service that clients call; also the route object's name. */
  service: string;
  stableService: string;
  canaryService: string;
  /** Port of the apex Service (HTTPRoute backendRefs need one). */
  port: number;
  /** Points at the enabled Deployment, so the route goes when the Deployment goes. */
  owner: V1OwnerReference;
  /** Labels serin puts on what it owns. */
  labels: Record<string, string>;
}

export interface Router {
  /** Human name of the API in use, e.g. "TrafficSplit split.smi-spec.io/v1alpha2". */
  readonly api: string;
  /** Where the route objects live, for watching them. */
  readonly resource: { group: string; version: string; plural: string };
  /**
   * One write guarded by the resourceVersion of `existing` (as cached): the weights and serin's
   * annotations (null removes); creates the object when `existing` is undefined; no request when
   * nothing would change. A lost race throws the apiserver's 409 (or 404). Returns the stored object.
   */
  write(
    target: RouteTarget,
    weights: Weights,
    annotations: Record<string, string | null>,
    existing: unknown,
  ): Promise<unknown>;
  /** The route object as stored now, or undefined when there is none (a GET: not for the hot path). */
  read(target: RouteTarget): Promise<unknown>;
  /** The weights a route object (e.g. from an informer's cache) carries; pure. */
  readWeights(object: unknown, target: RouteTarget): Weights;
  /** Deletes the route object; no error when it is already gone. */
  finalize(target: RouteTarget): Promise<void>;
}
