import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { WEIGHT_SCALE } from "../contract/keys.js";
import { routeTarget } from "./route-fixtures.js";
import {
  readTrafficSplitWeights,
  repairTrafficSplit,
  SMI_VERSIONS,
  type TrafficSplit,
  trafficSplitBody,
} from "./smi.js";
import { canaryWeights, STABLE_ONLY } from "./weights.js";

const target = routeTarget();

test("a v1alpha1 TrafficSplit at 0.1% carries canary 10 and stable 9990 as plain integers", () => {
  const body = trafficSplitBody(target, canaryWeights(10), "v1alpha1");
  assert.deepEqual(body, {
    apiVersion: "split.smi-spec.io/v1alpha1",
    kind: "TrafficSplit",
    metadata: {
      name: "web",
      namespace: "shop",
      labels: { "app.kubernetes.io/managed-by": "serin" },
      ownerReferences: [target.owner],
    },
    spec: {
      service: "web",
      backends: [
        { service: "web-stable", weight: 9990 },
        { service: "web-canary", weight: 10 },
      ],
    },
  });
  for (const backend of body.spec.backends) assert.equal(typeof backend.weight, "number");
});

test("every SMI version gets its apiVersion and both backends, the canary kept at weight 0", () => {
  for (const version of SMI_VERSIONS) {
    const body = trafficSplitBody(target, STABLE_ONLY, version);
    assert.equal(body.apiVersion, `split.smi-spec.io/${version}`);
    assert.deepEqual(body.spec.backends, [
      { service: "web-stable", weight: WEIGHT_SCALE },
      { service: "web-canary", weight: 0 },
    ]);
  }
});

test("an owner reference without optional fields has no undefined members in the body", () => {
  const owner = { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1", controller: undefined };
  const body = trafficSplitBody(routeTarget({ owner }), STABLE_ONLY, "v1alpha2");
  assert.deepEqual(body.metadata.ownerReferences, [
    { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1" },
  ]);
});

function split(backends: unknown[]): unknown {
  return {
    apiVersion: "split.smi-spec.io/v1alpha1",
    kind: "TrafficSplit",
    spec: { service: "web", backends },
  };
}

test("weights are read whatever order the backends are in", () => {
  const weights = readTrafficSplitWeights(
    split([
      { service: "web-canary", weight: 2500 },
      { service: "web-stable", weight: 7500 },
    ]),
  );
  assert.deepEqual(weights, { stable: 7500, canary: 2500 });
});

test('a v1alpha1 split someone set to "500m"/"500m" reads as 5000/5000', () => {
  const weights = readTrafficSplitWeights(
    split([
      { service: "web-stable", weight: "500m" },
      { service: "web-canary", weight: "500m" },
    ]),
  );
  assert.deepEqual(weights, { stable: 5000, canary: 5000 });
});

test("integer weights of another scale read as shares of 10000", () => {
  const weights = readTrafficSplitWeights(
    split([
      { service: "web-stable", weight: 1 },
      { service: "web-canary", weight: "3" },
    ]),
  );
  assert.deepEqual(weights, { stable: 2500, canary: 7500 });
});

test("a missing canary backend reads as canary 0; a missing stable one leaves all to the canary", () => {
  assert.deepEqual(readTrafficSplitWeights(split([{ service: "web-stable", weight: 3 }])), STABLE_ONLY);
  assert.deepEqual(readTrafficSplitWeights(split([{ service: "web-canary", weight: 3 }])), {
    stable: 0,
    canary: WEIGHT_SCALE,
  });
  assert.deepEqual(readTrafficSplitWeights(split([])), STABLE_ONLY);
  assert.deepEqual(readTrafficSplitWeights({ spec: {} }), STABLE_ONLY);
});

test("backends other than the two are not counted", () => {
  const weights = readTrafficSplitWeights(
    split([
      { service: "web-stable", weight: 900 },
      { service: "web-canary", weight: 100 },
      { service: "web-legacy", weight: 1000 },
    ]),
  );
  assert.deepEqual(weights, { stable: 9000, canary: 1000 });
});

test("backend names can be given instead of derived from spec.service", () => {
  const object = split([
    { service: "a", weight: 1 },
    { service: "b", weight: 1 },
  ]);
  assert.deepEqual(readTrafficSplitWeights(object, { stableService: "a", canaryService: "b" }), {
    stable: 5000,
    canary: 5000,
  });
});

test("an unreadable weight is an error naming the backend and the value", () => {
  assert.throws(
    () => readTrafficSplitWeights(split([{ service: "web-canary", weight: "lots" }])),
    /TrafficSplit backend web-canary has an unreadable weight: "lots" is not a Kubernetes quantity/,
  );
  assert.throws(
    () => readTrafficSplitWeights(split([{ service: "web-canary", weight: -5 }])),
    /non-negative/,
  );
});

test("what serin writes it reads back exactly, for every version and weight", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: WEIGHT_SCALE }),
      fc.constantFrom(...SMI_VERSIONS),
      (canary, version) => {
        const weights = canaryWeights(canary);
        const body = trafficSplitBody(target, weights, version);
        assert.deepEqual(readTrafficSplitWeights(body, target), weights);
        assert.deepEqual(readTrafficSplitWeights(body), weights);
      },
    ),
  );
});

function stored(body: TrafficSplit): TrafficSplit {
  return {
    ...structuredClone(body),
    metadata: { ...structuredClone(body.metadata), resourceVersion: "41", uid: "ts-uid", generation: 2 },
  };
}

test("repairing a split that is already right changes nothing", () => {
  const existing = stored(trafficSplitBody(target, canaryWeights(2500), "v1alpha2"));
  assert.deepEqual(repairTrafficSplit(existing, target, canaryWeights(2500), "v1alpha2"), existing);
});

test("a repair rewrites the weights and keeps the resourceVersion the write is guarded by", () => {
  const existing = stored(trafficSplitBody(target, STABLE_ONLY, "v1alpha4"));
  const repaired = repairTrafficSplit(existing, target, canaryWeights(10), "v1alpha4");
  assert.equal(repaired.metadata.resourceVersion, "41");
  assert.deepEqual(repaired.spec.backends, [
    { service: "web-stable", weight: 9990 },
    { service: "web-canary", weight: 10 },
  ]);
});

test("a repair restores a dropped canary backend, drops a third one, keeps others' labels and fields", () => {
  const existing: TrafficSplit = {
    apiVersion: "split.smi-spec.io/v1alpha3",
    kind: "TrafficSplit",
    metadata: {
      name: "web",
      namespace: "shop",
      resourceVersion: "7",
      labels: { team: "payments" },
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "other", uid: "cm-uid" }],
    },
    spec: {
      service: "web",
      matches: [{ kind: "HTTPRouteGroup", name: "api" }],
      backends: [
        { service: "web-legacy", weight: 50 },
        { service: "web-stable", weight: "500m" },
      ],
    },
  };
  const repaired = repairTrafficSplit(existing, target, STABLE_ONLY, "v1alpha3");
  assert.deepEqual(repaired.metadata, {
    name: "web",
    namespace: "shop",
    resourceVersion: "7",
    labels: { team: "payments", "app.kubernetes.io/managed-by": "serin" },
    ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "other", uid: "cm-uid" }, target.owner],
  });
  assert.deepEqual(repaired.spec, {
    service: "web",
    matches: [{ kind: "HTTPRouteGroup", name: "api" }],
    backends: [
      { service: "web-stable", weight: WEIGHT_SCALE },
      { service: "web-canary", weight: 0 },
    ],
  });
});

test("a split read through another version is repaired to the router's version", () => {
  const existing = stored(trafficSplitBody(target, STABLE_ONLY, "v1alpha1"));
  assert.equal(
    repairTrafficSplit(existing, target, STABLE_ONLY, "v1alpha2").apiVersion,
    "split.smi-spec.io/v1alpha2",
  );
});
