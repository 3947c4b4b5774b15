import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseRouterApi } from "./factory.js";

const LINKERD_SMI = ["split.smi-spec.io/v1alpha1", "split.smi-spec.io/v1alpha2"];
const UPSTREAM_SMI = [
  "split.smi-spec.io/v1alpha1",
  "split.smi-spec.io/v1alpha2",
  "split.smi-spec.io/v1alpha3",
  "split.smi-spec.io/v1alpha4",
];
const GATEWAY = "gateway.networking.k8s.io/v1";
const LINKERD_ROUTE = "policy.linkerd.io/v1beta3";
const UNRELATED = ["apps/v1", "policy.linkerd.io/v1beta1", "gateway.networking.k8s.io/v1beta1"];

test("auto takes the newest TrafficSplit version the cluster serves", () => {
  assert.deepEqual(chooseRouterApi([...UNRELATED, ...LINKERD_SMI, GATEWAY], { kind: "auto" }), {
    kind: "smi",
    version: "v1alpha2",
  });
  assert.deepEqual(chooseRouterApi([...UPSTREAM_SMI].reverse(), { kind: "auto" }), {
    kind: "smi",
    version: "v1alpha4",
  });
  assert.deepEqual(chooseRouterApi(["split.smi-spec.io/v1alpha1"], { kind: "auto" }), {
    kind: "smi",
    version: "v1alpha1",
  });
});

test("auto without any TrafficSplit takes Gateway API's HTTPRoute before Linkerd's", () => {
  assert.deepEqual(chooseRouterApi([LINKERD_ROUTE, GATEWAY], { kind: "auto" }), {
    kind: "httproute",
    api: { group: "gateway.networking.k8s.io", version: "v1" },
  });
  assert.deepEqual(chooseRouterApi([...UNRELATED, LINKERD_ROUTE], { kind: "auto" }), {
    kind: "httproute",
    api: { group: "policy.linkerd.io", version: "v1beta3" },
  });
});

test("with nothing to steer, the error names every API it looked for", () => {
  assert.throws(
    () => chooseRouterApi(UNRELATED, { kind: "auto" }),
    (error: Error) =>
      [
        "split.smi-spec.io/v1alpha4",
        "split.smi-spec.io/v1alpha1",
        "gateway.networking.k8s.io/v1",
        "policy.linkerd.io/v1beta3",
        "trafficsplits",
        "httproutes",
      ].every((name) => error.message.includes(name)),
  );
});

test("smi without a version discovers it, and never falls back to HTTPRoute", () => {
  assert.deepEqual(chooseRouterApi([...LINKERD_SMI, GATEWAY], { kind: "smi" }), {
    kind: "smi",
    version: "v1alpha2",
  });
  assert.throws(
    () => chooseRouterApi([GATEWAY, LINKERD_ROUTE], { kind: "smi" }),
    (error: Error) =>
      error.message.includes("split.smi-spec.io/v1alpha4") && !error.message.includes("httproutes"),
  );
});

test("httproute without a group discovers it, and never falls back to TrafficSplit", () => {
  assert.deepEqual(chooseRouterApi([...UPSTREAM_SMI, LINKERD_ROUTE], { kind: "httproute" }), {
    kind: "httproute",
    api: { group: "policy.linkerd.io", version: "v1beta3" },
  });
  assert.throws(
    () => chooseRouterApi(UPSTREAM_SMI, { kind: "httproute" }),
    (error: Error) =>
      error.message.includes("policy.linkerd.io/v1beta3") && !error.message.includes("trafficsplits"),
  );
});

test("a configured version is taken as it is, served or not", () => {
  assert.deepEqual(chooseRouterApi(UPSTREAM_SMI, { kind: "smi", version: "v1alpha1" }), {
    kind: "smi",
    version: "v1alpha1",
  });
  assert.deepEqual(chooseRouterApi([], { kind: "httproute", group: "policy.linkerd.io" }), {
    kind: "httproute",
    api: { group: "policy.linkerd.io", version: "v1beta3" },
  });
});
