import assert from "node:assert/strict";
import { test } from "node:test";
import { loadBinaries, pathsEnvFile, testClusterOptions } from "../harness/index.js";
import { Journey } from "./journey.js";
import { lifecycleJourneys } from "./lifecycle-journeys.js";

// The version matrix: the same journeys on the newest Kubernetes built beside the default one.
const built = await loadBinaries(pathsEnvFile(testClusterOptions().cacheRoot));
const newest = built.versions.filter((version) => version !== built.defaultVersion).at(-1);
if (!newest)
  throw new Error(`only Kubernetes ${built.defaultVersion} is built: the matrix needs a newer one`);

/**
 * A pod-template field newer than client-node 1.4's models: HTTP probes' `protocol`, served by 1.37
 * behind the H2CContainerProbe gate. A client that passes templates through those models drops it.
 */
const featureGates = { H2CContainerProbe: true };
const probe = { httpGet: { path: "/ready", port: 8080, protocol: "HTTP2" }, periodSeconds: 5 };

lifecycleJourneys(
  `canary lifecycle on an SMI TrafficSplit, on Kubernetes ${newest}`,
  {
    kubernetesVersion: newest,
    featureGates,
  },
  ({ env, route }) => {
    test("a template field client-node does not know reaches the canary and the promoted Deployment intact", async () => {
      const journey = new Journey(env.cp, "new-field", route);
      const annotations = { "serin.dev/steps": "50", "serin.dev/step-interval": "2s" };
      await journey.create({ annotations });
      const manifest = JSON.parse(journey.manifest("registry.example/web:2.0.0", { annotations })) as {
        spec: { template: { spec: { containers: { readinessProbe?: unknown }[] } } };
      };
      const container = manifest.spec.template.spec.containers[0];
      assert.ok(container);
      container.readinessProbe = probe;
      await journey.apply(JSON.stringify(manifest));
      await journey.waitForCanaryWeight(5_000);
      const canaryProbe = (await journey.get("web-canary"))?.spec?.template.spec?.containers[0]
        ?.readinessProbe;
      assert.equal((canaryProbe?.httpGet as { protocol?: string } | undefined)?.protocol, "HTTP2");
      await journey.waitForPhase("Succeeded");
      const promoted = (await journey.get())?.spec?.template.spec?.containers[0]?.readinessProbe;
      assert.equal((promoted?.httpGet as { protocol?: string } | undefined)?.protocol, "HTTP2");
    });
  },
);
