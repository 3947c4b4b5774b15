import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { ownerKeys, resyncSlot, routingKeys, userInputsOf } from "./mapping.js";

const deployment = (name: string, service?: string): V1Deployment => ({
  metadata: {
    name,
    namespace: "shop",
    ...(service ? { annotations: { "serin.dev/service": service } } : {}),
  },
});

test("serin's own objects map to the Deployment their owner label names", () => {
  assert.deepEqual(
    ownerKeys({ metadata: { namespace: "shop", labels: { "serin.dev/deployment": "web" } } }),
    ["shop/web"],
  );
  assert.deepEqual(ownerKeys({ metadata: { namespace: "shop", name: "other" } }), []);
});

test("an apex Service maps to every enabled Deployment routing through it, by name or by annotation", () => {
  const enabled = [deployment("web"), deployment("api", "web"), deployment("db")];
  assert.deepEqual(routingKeys({ metadata: { namespace: "shop", name: "web" } }, enabled), [
    "shop/web",
    "shop/api",
  ]);
  assert.deepEqual(routingKeys({ metadata: { namespace: "shop", name: "nothing" } }, enabled), []);
});

test("resync slots are stable and spread a fleet over the period", () => {
  assert.equal(resyncSlot("shop/web", 60), resyncSlot("shop/web", 60));
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 1000; i++) counts[resyncSlot(`ns-${i % 7}/app-${i}`, 10)] += 1;
  for (const count of counts) assert.ok(count > 60 && count < 140, `slots spread: ${counts.join(",")}`);
});

test("a user's change of a Deployment is told apart from serin's own label and status writes", () => {
  const before: V1Deployment = {
    metadata: { name: "web", generation: 3, labels: { "serin.dev/phase": "Progressing" } },
  };
  const relabelled: V1Deployment = {
    metadata: {
      name: "web",
      generation: 3,
      labels: { "serin.dev/phase": "Paused", "serin.dev/weight": "10" },
    },
    status: { observedGeneration: 3 },
  };
  assert.equal(
    userInputsOf(relabelled),
    userInputsOf(before),
    "labels and status are serin's and the controllers'",
  );
  const shipped = { metadata: { ...before.metadata, generation: 4 } };
  const aborted = { metadata: { ...before.metadata, annotations: { "serin.dev/action": "abort" } } };
  const deleted = { metadata: { ...before.metadata, deletionTimestamp: new Date() } };
  for (const changed of [shipped, aborted, deleted])
    assert.notEqual(userInputsOf(changed), userInputsOf(before));
});
