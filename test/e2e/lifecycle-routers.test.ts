import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type CrdName, withControlPlane } from "../harness/index.js";
import { Journey, type RouteApi, startCanaryWatcher } from "./journey.js";

/** The main journeys on every traffic API serin steers, each on a cluster that serves only that API. */
interface Flavour {
  name: string;
  crds: CrdName[];
  watchArgs: string[];
  route: RouteApi;
}

const flavours: Flavour[] = [
  {
    name: "linkerd-smi (TrafficSplit v1alpha1 + v1alpha2 served; discovery picks v1alpha2)",
    crds: ["trafficsplit-linkerd-smi"],
    watchArgs: [],
    route: { kind: "trafficsplit", version: "v1alpha2" },
  },
  {
    name: "linkerd-smi with TrafficSplit v1alpha1 configured",
    crds: ["trafficsplit-linkerd-smi"],
    watchArgs: ["--router", "smi/v1alpha1"],
    route: { kind: "trafficsplit", version: "v1alpha1" },
  },
  {
    name: "Gateway API HTTPRoute (no TrafficSplit served)",
    crds: ["httproute-gateway"],
    watchArgs: [],
    route: { kind: "httproute", group: "gateway.networking.k8s.io", version: "v1" },
  },
  {
    name: "Linkerd policy HTTPRoute (no TrafficSplit served)",
    crds: ["httproute-linkerd-policy"],
    watchArgs: [],
    route: { kind: "httproute", group: "policy.linkerd.io", version: "v1beta3" },
  },
];

for (const flavour of flavours) {
  describe(flavour.name, () => {
    const env = withControlPlane({ crds: flavour.crds });

    before(
      async () => {
        await startCanaryWatcher(env.cp, flavour.watchArgs);
      },
      { timeout: 60_000 },
    );

    test("v1 to v2 through 0.1% and 50%, then promotion", async () => {
      const journey = new Journey(env.cp, "rollout", flavour.route);
      const annotations = { "serin.dev/steps": "0.1,50", "serin.dev/step-interval": "1s" };
      await journey.create({ annotations });
      const recorder = journey.recordWeights();
      await journey.ship("registry.example/web:2.0.0", { annotations });
      await journey.waitForPhase("Succeeded", 30_000);
      assert.deepEqual(await recorder.stop(), [0, 10, 5_000, 10_000, 0]);
      assert.equal(await journey.image(), "registry.example/web:2.0.0");
      assert.equal(await journey.get("web-canary"), undefined);
    });

    test("abort mid-step sends all traffic back to stable and removes the canary", async () => {
      const journey = new Journey(env.cp, "abort", flavour.route);
      const annotations = { "serin.dev/steps": "25,50", "serin.dev/step-interval": "1h" };
      await journey.create({ annotations });
      await journey.ship("registry.example/web:2.0.0", { annotations });
      await journey.waitForCanaryWeight(2_500);
      await journey.annotate("serin.dev/action", "abort");
      await journey.waitForPhase("Aborted");
      assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
      assert.equal(await journey.get("web-canary"), undefined);
      assert.equal(await journey.image(), "registry.example/web:1.0.0");
    });
  });
}
