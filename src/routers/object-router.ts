import { isDeepStrictEqual } from "node:util";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { apiErrorCode, apiErrorMessage, statusBody } from "../kube-errors.js";
import type { RouteObject } from "./route-object.js";
import type { Router, RouteTarget, Weights } from "./router.js";
import { assertWeights } from "./weights.js";

/** The calls a router makes: `kc.makeApiClient(CustomObjectsApi)` has them, and so do test doubles. */
export type CustomObjects = Pick<
  CustomObjectsApi,
  | "getNamespacedCustomObject"
  | "createNamespacedCustomObject"
  | "replaceNamespacedCustomObject"
  | "deleteNamespacedCustomObject"
>;

/** One traffic API, as pure functions of the object: what the generic router needs to know. */
export interface RouteKind {
  /** Human name, e.g. "TrafficSplit split.smi-spec.io/v1alpha2". */
  api: string;
  group: string;
  version: string;
  plural: string;
  build(target: RouteTarget, weights: Weights): RouteObject<unknown>;
  /** `existing` made to carry the target and the weights; equal to `existing` when nothing is to change. */
  repair(existing: RouteObject<unknown>, target: RouteTarget, weights: Weights): RouteObject<unknown>;
  read(existing: RouteObject<unknown>, target: RouteTarget): Weights;
}

/**
 * A Router over any route custom object. A write is a replace that carries the resourceVersion of the
 * object the caller decided from, sent only when something differs: when someone else wrote in
 * between, the apiserver answers 409 and the caller reads again and decides again.
 */
export class ObjectRouter implements Router {
  readonly api: string;
  readonly resource: { group: string; version: string; plural: string };

  constructor(
    private readonly objects: CustomObjects,
    private readonly kind: RouteKind,
  ) {
    this.api = kind.api;
    this.resource = { group: kind.group, version: kind.version, plural: kind.plural };
  }

  async finalize(target: RouteTarget): Promise<void> {
    // No resourceVersion precondition: whatever the object holds now, the decision is to delete it.
    try {
      await this.objects.deleteNamespacedCustomObject({ ...this.where(target), name: target.service });
    } catch (error) {
      if (apiErrorCode(error) !== 404) throw this.failure("delete", target, error);
    }
  }

  /**
   * One write guarded by the resourceVersion of `existing` (the object as the caller's cache holds it):
   * the weights and serin's annotations (null removes) on it, or a new object when there is none. No
   * request when nothing would change. A write that lost a race throws the apiserver's 409 (a 404 when
   * the object went away), for the caller to read again and decide again. Returns the object as stored.
   */
  async write(
    target: RouteTarget,
    weights: Weights,
    annotations: Record<string, string | null>,
    existing: unknown,
  ): Promise<unknown> {
    assertWeights(weights);
    const where = { ...this.where(target), fieldManager: "serin" };
    if (existing) {
      const current = existing as RouteObject<unknown>;
      const desired = withAnnotations(this.kind.repair(current, target, weights), annotations);
      if (isDeepStrictEqual(desired, current)) return existing;
      try {
        return await this.objects.replaceNamespacedCustomObject({
          ...where,
          name: target.service,
          body: desired,
        });
      } catch (error) {
        if (apiErrorCode(error) === 409 || isObjectNotFound(error, target.service)) throw error;
        throw this.failure("replace", target, error);
      }
    }
    const body = withAnnotations(this.kind.build(target, weights), annotations);
    try {
      return await this.objects.createNamespacedCustomObject({ ...where, body });
    } catch (error) {
      if (apiErrorCode(error) === 409) throw error;
      throw this.failure("create", target, error);
    }
  }

  async read(target: RouteTarget): Promise<RouteObject<unknown> | undefined> {
    try {
      return (await this.objects.getNamespacedCustomObject({
        ...this.where(target),
        name: target.service,
      })) as RouteObject<unknown>;
    } catch (error) {
      if (isObjectNotFound(error, target.service)) return undefined;
      throw this.failure("read", target, error);
    }
  }

  readWeights(existing: unknown, target: RouteTarget): Weights {
    try {
      return this.kind.read(existing as RouteObject<unknown>, target);
    } catch (error) {
      throw new Error(`${this.describe(target)}: ${(error as Error).message}`, { cause: error });
    }
  }

  private where(target: RouteTarget) {
    const { group, version, plural } = this.kind;
    return { group, version, plural, namespace: target.namespace };
  }

  private describe(target: RouteTarget): string {
    return `${this.api} ${target.namespace}/${target.service}`;
  }

  private failure(verb: string, target: RouteTarget, error: unknown): Error {
    const code = apiErrorCode(error);
    // A configured version the cluster does not serve shows up as a 404 that is not about the object.
    const unserved = code === 404 && !isObjectNotFound(error, target.service);
    const hint = unserved ? `; is ${this.api} served by this cluster?` : "";
    const status = code ? ` (HTTP ${code})` : "";
    const detail = apiErrorMessage(error);
    return new Error(`${verb} ${this.describe(target)} failed${status}: ${detail}${hint}`, { cause: error });
  }
}

/** `object` with serin's annotations set (string) or removed (null); the same object when none change. */
function withAnnotations(
  object: RouteObject<unknown>,
  changes: Record<string, string | null>,
): RouteObject<unknown> {
  if (Object.keys(changes).length === 0) return object;
  const annotations: Record<string, string> = {
    ...(object.metadata.annotations as Record<string, string> | undefined),
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete annotations[key];
    else annotations[key] = value;
  }
  const { annotations: _old, ...rest } = object.metadata;
  const metadata = Object.keys(annotations).length > 0 ? { ...rest, annotations } : rest;
  return { ...object, metadata };
}

/**
 * A 404 about the object itself. An API the cluster does not serve answers 404 too, but as plain text
 * ("404 page not found") or a Status without the object's name: that must not read as "no route yet".
 */
function isObjectNotFound(error: unknown, name: string): boolean {
  if (apiErrorCode(error) !== 404) return false;
  const details = statusBody(error)?.details as { name?: unknown } | undefined;
  return details?.name === name;
}
