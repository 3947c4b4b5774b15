import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WEIGHT_SCALE } from "../contract/keys.js";
import {
  HTTPROUTE_APIS,
  type HttpRoute,
  httpRouteApiFor,
  httpRouteBody,
  readHttpRouteWeights,
  repairHttpRoute,
} from "./httproute.js";
import { routeTarget } from "./route-fixtures.js";
import { canaryWeights, STABLE_ONLY } from "./weights.js";

const target = routeTarget();
const gateway = httpRouteApiFor("gateway.networking.k8s.io");
const linkerd = httpRouteApiFor("policy.linkerd.io");

test("the two HTTPRoute flavours are Gateway API v1 and Linkerd's v1beta3", () => {
  assert.deepEqual(gateway, { group: "gateway.networking.k8s.io", version: "v1" });
  assert.deepEqual(linkerd, { group: "policy.linkerd.io", version: "v1beta3" });
});

test("an HTTPRoute attaches to the apex Service and weighs the two backends out of 10000", () => {
  assert.deepEqual(httpRouteBody(target, canaryWeights(10), linkerd), {
    apiVersion: "policy.linkerd.io/v1beta3",
    kind: "HTTPRoute",
    metadata: {
      name: "web",
      namespace: "shop",
      labels: { "app.kubernetes.io/managed-by": "serin" },
      ownerReferences: [target.owner],
    },
    spec: {
      parentRefs: [{ group: "core", kind: "Service", name: "web", port: 8080 }],
      rules: [
        {
          backendRefs: [
            { name: "web-stable", port: 8080, weight: 9990 },
            { name: "web-canary", port: 8080, weight: 10 },
          ],
        },
      ],
    },
  });
  assert.equal(httpRouteBody(target, STABLE_ONLY, gateway).apiVersion, "gateway.networking.k8s.io/v1");
});

test("a parentRef to the apex Service names the core group as each API spells it", () => {
  assert.deepEqual(httpRouteBody(target, STABLE_ONLY, gateway).spec.parentRefs, [
    { group: "", kind: "Service", name: "web", port: 8080 },
  ]);
  assert.deepEqual(httpRouteBody(target, STABLE_ONLY, linkerd).spec.parentRefs, [
    { group: "core", kind: "Service", name: "web", port: 8080 },
  ]);
});

test('a Gateway API route whose apex parentRef says "core" is repaired to the empty string, Linkerd\'s kept', () => {
  const written = (api: typeof gateway): HttpRoute => ({
    apiVersion: `${api.group}/${api.version}`,
    kind: "HTTPRoute",
    metadata: { name: "web", namespace: "shop" },
    spec: { parentRefs: [{ group: "core", kind: "Service", name: "web", port: 8080 }] },
  });
  assert.deepEqual(repairHttpRoute(written(gateway), target, STABLE_ONLY, gateway).spec.parentRefs, [
    { group: "", kind: "Service", name: "web", port: 8080 },
  ]);
  assert.deepEqual(repairHttpRoute(written(linkerd), target, STABLE_ONLY, linkerd).spec.parentRefs, [
    { group: "core", kind: "Service", name: "web", port: 8080 },
  ]);
});

test("a canary at weight 0 keeps its backendRef", () => {
  const refs = httpRouteBody(target, STABLE_ONLY, gateway).spec.rules?.[0]?.backendRefs;
  assert.deepEqual(refs, [
    { name: "web-stable", port: 8080, weight: WEIGHT_SCALE },
    { name: "web-canary", port: 8080, weight: 0 },
  ]);
});

function route(rules: unknown[]): unknown {
  return { kind: "HTTPRoute", metadata: { name: "web", namespace: "shop" }, spec: { rules } };
}

test("the backendRefs are found by name, in any order, with the defaults the apiserver fills in", () => {
  const object = route([
    {
      backendRefs: [
        { group: "", kind: "Service", name: "web-canary", port: 8080, weight: 2500 },
        { group: "", kind: "Service", name: "web-stable", port: 8080, weight: 7500 },
      ],
    },
  ]);
  assert.deepEqual(readHttpRouteWeights(object), { stable: 7500, canary: 2500 });
});

test("a backendRef without a weight counts as 1, a missing one as 0", () => {
  assert.deepEqual(
    readHttpRouteWeights(route([{ backendRefs: [{ name: "web-stable" }, { name: "web-canary" }] }])),
    {
      stable: 5000,
      canary: 5000,
    },
  );
  assert.deepEqual(
    readHttpRouteWeights(route([{ backendRefs: [{ name: "web-stable", weight: 3 }] }])),
    STABLE_ONLY,
  );
  assert.deepEqual(readHttpRouteWeights(route([])), STABLE_ONLY);
});

test("refs of another kind, group or namespace with the same name are not the backends", () => {
  const object = route([
    {
      backendRefs: [
        { name: "web-stable", weight: 1 },
        { name: "web-canary", kind: "ServiceImport", group: "multicluster.x-k8s.io", weight: 9 },
        { name: "web-canary", namespace: "elsewhere", weight: 9 },
      ],
    },
  ]);
  assert.deepEqual(readHttpRouteWeights(object), STABLE_ONLY);
});

test("the first rule that sends to the backends is the one read", () => {
  const object = route([
    { matches: [{ path: { value: "/admin" } }], backendRefs: [{ name: "admin", weight: 1 }] },
    {
      backendRefs: [
        { name: "web-stable", weight: 9000 },
        { name: "web-canary", weight: 1000 },
      ],
    },
  ]);
  assert.deepEqual(readHttpRouteWeights(object, target), { stable: 9000, canary: 1000 });
});

test("what serin writes it reads back exactly, for both flavours and every weight", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: WEIGHT_SCALE }),
      fc.constantFrom(...HTTPROUTE_APIS),
      (canary, api) => {
        const weights = canaryWeights(canary);
        assert.deepEqual(readHttpRouteWeights(httpRouteBody(target, weights, api), target), weights);
        assert.deepEqual(readHttpRouteWeights(httpRouteBody(target, weights, api)), weights);
      },
    ),
  );
});

/** A route as the apiserver returns it: resourceVersion set and backendRef defaults filled in. */
function stored(body: HttpRoute): HttpRoute {
  const copy = structuredClone(body);
  copy.metadata.resourceVersion = "12";
  for (const rule of copy.spec.rules ?? []) {
    rule.backendRefs = rule.backendRefs?.map((ref) => ({ group: "", kind: "Service", ...ref }));
  }
  return copy;
}

test("repairing a route that is already right changes nothing, defaults and all", () => {
  const existing = stored(httpRouteBody(target, canaryWeights(500), gateway));
  assert.deepEqual(repairHttpRoute(existing, target, canaryWeights(500), gateway), existing);
});

test("a repair sets the weights and keeps the rule's matches, filters and defaults", () => {
  const existing = stored(httpRouteBody(target, STABLE_ONLY, linkerd));
  const rule = existing.spec.rules?.[0];
  assert.ok(rule);
  rule.matches = [{ path: { type: "PathPrefix", value: "/" } }];
  rule.timeouts = { request: "10s" };
  const repaired = repairHttpRoute(existing, target, canaryWeights(10), linkerd);
  assert.equal(repaired.metadata.resourceVersion, "12");
  assert.deepEqual(repaired.spec.rules, [
    {
      matches: [{ path: { type: "PathPrefix", value: "/" } }],
      timeouts: { request: "10s" },
      backendRefs: [
        { group: "", kind: "Service", name: "web-stable", port: 8080, weight: 9990 },
        { group: "", kind: "Service", name: "web-canary", port: 8080, weight: 10 },
      ],
    },
  ]);
});

test("a repair puts back a missing parentRef, a dropped canary backendRef and a rule when none sends", () => {
  const existing: HttpRoute = {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "web", namespace: "shop", resourceVersion: "3" },
    spec: {
      parentRefs: [{ name: "edge", kind: "Gateway", group: "gateway.networking.k8s.io" }],
      rules: [
        {
          backendRefs: [
            { name: "web-stable", port: 8080 },
            { name: "web-old", port: 8080 },
          ],
        },
      ],
    },
  };
  const repaired = repairHttpRoute(existing, target, STABLE_ONLY, gateway);
  assert.deepEqual(repaired.spec.parentRefs, [
    { name: "edge", kind: "Gateway", group: "gateway.networking.k8s.io" },
    { group: "", kind: "Service", name: "web", port: 8080 },
  ]);
  assert.deepEqual(repaired.spec.rules, [
    {
      backendRefs: [
        { name: "web-stable", port: 8080, weight: WEIGHT_SCALE },
        { name: "web-canary", port: 8080, weight: 0 },
      ],
    },
  ]);

  const empty = repairHttpRoute(
    { ...existing, spec: { rules: [{ backendRefs: [{ name: "admin" }] }] } },
    target,
    STABLE_ONLY,
    gateway,
  );
  assert.equal(empty.spec.rules?.length, 2);
  assert.deepEqual(empty.spec.rules?.[0], { backendRefs: [{ name: "admin" }] });
  assert.deepEqual(readHttpRouteWeights(empty, target), STABLE_ONLY);
});

test("a parentRef to the apex Service spelled with the empty group counts as present", () => {
  const existing = stored(httpRouteBody(target, STABLE_ONLY, gateway));
  existing.spec.parentRefs = [{ group: "", kind: "Service", name: "web" }];
  assert.deepEqual(repairHttpRoute(existing, target, STABLE_ONLY, gateway).spec.parentRefs, [
    { group: "", kind: "Service", name: "web" },
  ]);
});
