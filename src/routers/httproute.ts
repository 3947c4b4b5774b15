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

/**
 * HTTPRoute, Gateway API's or Linkerd's copy of it: the pure half (object in, object out);
 * HttpRouteRouter in httproute-router.ts does the I/O. The route attaches to the apex Service itself
 * (a GAMMA parentRef, which is how Linkerd applies routes to mesh traffic).
 */

export const HTTPROUTE_PLURAL = "httproutes";

/** In order of preference when discovery chooses. */
export const HTTPROUTE_APIS = [
  { group: "gateway.networking.k8s.io", version: "v1" },
  { group: "policy.linkerd.io", version: "v1beta3" },
] as const;
export type HttpRouteApi = (typeof HTTPROUTE_APIS)[number];
export type HttpRouteGroup = HttpRouteApi["group"];

export function httpRouteApiFor(group: HttpRouteGroup): HttpRouteApi {
  const api = HTTPROUTE_APIS.find((candidate) => candidate.group === group);
  if (!api) throw new Error(`serin has no HTTPRoute version for the group ${group}`);
  return api;
}

export interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  port?: number;
  [field: string]: unknown;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  /** Gateway API defaults a missing weight to 1. */
  weight?: number;
  [field: string]: unknown;
}

export interface HttpRouteRule {
  backendRefs?: BackendRef[];
  [field: string]: unknown;
}

export interface HttpRouteSpec {
  parentRefs?: ParentRef[];
  rules?: HttpRouteRule[];
  [field: string]: unknown;
}

export type HttpRoute = RouteObject<HttpRouteSpec>;

/**
 * How each API names the core group (Services) in a parentRef: Gateway API by the empty string (a missing
 * group defaults to its own, meaning a Gateway), Linkerd's policy API by "core".
 */
function coreGroupFor(api: HttpRouteApi): string {
  return api.group === "policy.linkerd.io" ? "core" : "";
}

function apexParentRef(target: RouteTarget, api: HttpRouteApi): ParentRef {
  return { group: coreGroupFor(api), kind: "Service", name: target.service, port: target.port };
}

function weightedBackendRefs(target: RouteTarget, weights: Weights): [BackendRef, BackendRef] {
  return [
    { name: target.stableService, port: target.port, weight: weights.stable },
    { name: target.canaryService, port: target.port, weight: weights.canary },
  ];
}

/** A new HTTPRoute for the target: one rule, both backendRefs present even at weight 0. */
export function httpRouteBody(target: RouteTarget, weights: Weights, api: HttpRouteApi): HttpRoute {
  return {
    apiVersion: `${api.group}/${api.version}`,
    kind: "HTTPRoute",
    metadata: newMetadata(target),
    spec: {
      parentRefs: [apexParentRef(target, api)],
      rules: [{ backendRefs: weightedBackendRefs(target, weights) }],
    },
  };
}

function isCoreGroup(group: unknown): boolean {
  return group === undefined || group === "" || group === "core";
}

/** A parentRef naming the apex Service, however its group is spelled. */
function isApexParent(ref: unknown, service: string): boolean {
  return (
    isRecord(ref) && ref.name === service && (ref.kind ?? "Service") === "Service" && isCoreGroup(ref.group)
  );
}

/** A backendRef naming the Service `name` in the route's own namespace. */
function isServiceRef(ref: unknown, name: string, namespace: string | undefined): boolean {
  return (
    isRecord(ref) &&
    ref.name === name &&
    (ref.kind ?? "Service") === "Service" &&
    isCoreGroup(ref.group) &&
    (ref.namespace === undefined || ref.namespace === namespace)
  );
}

function servesBackends(rule: unknown, names: BackendNames, namespace: string | undefined): boolean {
  return (
    isRecord(rule) &&
    Array.isArray(rule.backendRefs) &&
    rule.backendRefs.some(
      (ref) =>
        isServiceRef(ref, names.stableService, namespace) ||
        isServiceRef(ref, names.canaryService, namespace),
    )
  );
}

/**
 * The existing HTTPRoute as serin wants it: a parentRef to the apex Service, and every rule that sends
 * to either backend sending to exactly the two at the given weights (a rule with neither is added when
 * none does). Matches, filters and fields serin does not know are kept, resourceVersion included, so the
 * write is guarded by it.
 */
export function repairHttpRoute(
  existing: HttpRoute,
  target: RouteTarget,
  weights: Weights,
  api: HttpRouteApi,
): HttpRoute {
  const spec: Record<string, unknown> = isRecord(existing.spec) ? existing.spec : {};
  const parents = Array.isArray(spec.parentRefs) ? (spec.parentRefs as ParentRef[]) : [];
  // An apex parentRef spelled "core" on a Gateway API route (as serin once wrote it) gets the empty string.
  const respelled = parents.map((ref) =>
    isApexParent(ref, target.service) && ref.group === "core" && coreGroupFor(api) === ""
      ? { ...ref, group: "" }
      : ref,
  );
  const parentRefs = respelled.some((ref) => isApexParent(ref, target.service))
    ? respelled
    : [...respelled, apexParentRef(target, api)];

  const rules = Array.isArray(spec.rules) ? (spec.rules as HttpRouteRule[]) : [];
  const namespace = target.namespace;
  const [stable, canary] = weightedBackendRefs(target, weights);
  const repairRule = (rule: HttpRouteRule): HttpRouteRule => {
    const refs = rule.backendRefs ?? [];
    const keep = (name: string) => refs.find((ref) => isServiceRef(ref, name, namespace)) ?? {};
    return {
      ...rule,
      backendRefs: [
        { ...keep(target.stableService), ...stable },
        { ...keep(target.canaryService), ...canary },
      ],
    };
  };
  const anyServes = rules.some((rule) => servesBackends(rule, target, namespace));
  const repairedRules = anyServes
    ? rules.map((rule) => (servesBackends(rule, target, namespace) ? repairRule(rule) : rule))
    : [...rules, { backendRefs: [stable, canary] }];

  return {
    ...existing,
    apiVersion: `${api.group}/${api.version}`,
    kind: "HTTPRoute",
    metadata: repairMetadata(existing.metadata ?? {}, target),
    spec: { ...spec, parentRefs, rules: repairedRules },
  };
}

/**
 * The weights of the first rule that sends to either backend, found by name whatever their order; a
 * missing backendRef counts as weight 0, one without a weight as 1 (the API's default). Names default to
 * the ones serin derives from the route's name, which is the apex Service's.
 */
export function readHttpRouteWeights(object: unknown, names?: BackendNames): Weights {
  const metadata = isRecord(object) && isRecord(object.metadata) ? object.metadata : {};
  const namespace = typeof metadata.namespace === "string" ? metadata.namespace : undefined;
  const wanted = names ?? backendNamesFor(typeof metadata.name === "string" ? metadata.name : "");
  const spec = isRecord(object) && isRecord(object.spec) ? object.spec : {};
  const rules: unknown[] = Array.isArray(spec.rules) ? spec.rules : [];
  const rule = rules.find((candidate) => servesBackends(candidate, wanted, namespace));
  const refs: unknown[] = isRecord(rule) && Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  const weightOf = (name: string): number => {
    const ref = refs.find((candidate) => isServiceRef(candidate, name, namespace));
    if (!isRecord(ref)) return 0;
    if (ref.weight === undefined || ref.weight === null) return 1;
    try {
      return quantityValue(ref.weight);
    } catch (error) {
      throw new Error(`HTTPRoute backendRef ${name} has an unreadable weight: ${(error as Error).message}`);
    }
  };
  return toWeights(weightOf(wanted.stableService), weightOf(wanted.canaryService));
}
