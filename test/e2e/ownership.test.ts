// serin touches only what it owns: another team's Service or Deployment that happens to carry the name
// serin would use is never changed or deleted, and the canary says which object stands in the way.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { serviceManifest } from "../fixtures/manifests.js";
import { withControlPlane } from "../harness/index.js";
import { Journey, startCanaryWatcher } from "./journey.js";

const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";

/** Another team's Service, on another selector and port, named as serin's track Service would be. */
const foreignService = (name: string) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels: { team: "other" } },
    spec: { selector: { app: "other" }, ports: [{ name: "db", port: 5432, targetPort: 5432 }] },
  });

async function json(journey: Journey, kind: string, name: string) {
  const result = await env.cp.kubectl([
    "get",
    kind,
    name,
    "-n",
    journey.namespace,
    "-o",
    "json",
    "--show-managed-fields",
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    metadata: {
      resourceVersion: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      ownerReferences?: unknown[];
      managedFields?: { manager?: string }[];
    };
    spec: {
      selector?: unknown;
      ports?: unknown;
      template?: { spec?: { containers?: { image?: string }[] } };
    };
  };
}

async function events(journey: Journey): Promise<string> {
  return (await journey.events()).map((event) => `${event.reason}: ${event.message}`).join("\n");
}

describe("serin touches only objects it owns", () => {
  before(
    async () => {
      await startCanaryWatcher(env.cp);
    },
    { timeout: 60_000 },
  );

  test("another team's web-stable Service: left as it is, the Deployment waits and says why, nothing deleted at opt-out", async () => {
    const journey = new Journey(env.cp, "taken-service", route);
    assert.equal((await env.cp.kubectl(["create", "namespace", journey.namespace])).code, 0);
    await journey.apply(foreignService("web-stable"));
    const before = await json(journey, "service", "web-stable");
    await journey.apply(serviceManifest());
    await journey.apply(journey.manifest("registry.example/web:1.0.0"));
    await journey.waitFor(
      async () =>
        /NameCollision: Service taken-service\/web-stable exists and is not serin's/.test(
          await events(journey),
        ),
      "an event naming the Service in the way",
    );
    assert.equal((await journey.status())["serin.dev/phase"], "Initializing");
    const after = await json(journey, "service", "web-stable");
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, "not written to");
    assert.deepEqual(after.spec.selector, { app: "other" });

    const removed = await env.cp.kubectl([
      "label",
      "deployment",
      "web",
      "-n",
      journey.namespace,
      "serin.dev/canary-",
    ]);
    assert.equal(removed.code, 0, removed.stderr);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok(
      await journey.exists("service", "web-stable"),
      "someone else's Service is not deleted at opt-out",
    );
  });

  test("another team's web-canary Deployment: the canary stops with a message, that Deployment untouched and kept", async () => {
    const journey = new Journey(env.cp, "taken-canary", route);
    await journey.create({ annotations: { "serin.dev/step-interval": "1h" } });
    const theirs = JSON.parse(
      journey.manifest("registry.example/theirs:7", { name: "web-canary", enabled: false }),
    ) as {
      metadata: { labels: Record<string, string> };
      spec: {
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> } };
      };
    };
    theirs.metadata.labels = { app: "theirs" };
    theirs.spec.selector.matchLabels = { app: "theirs" };
    theirs.spec.template.metadata.labels = { app: "theirs" };
    await journey.apply(JSON.stringify(theirs));
    const before = await json(journey, "deployment", "web-canary");

    await journey.ship(V2, { annotations: { "serin.dev/step-interval": "1h" } });
    const stopped = await journey.waitForPhase("Aborted");
    assert.match(
      stopped["serin.dev/message"] ?? "",
      /Deployment taken-canary\/web-canary exists and is not serin's/,
    );
    assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    // The Deployment controller writes its status and its revision annotation (a new resourceVersion);
    // serin must write nothing.
    const after = await json(journey, "deployment", "web-canary");
    assert.deepEqual(after.spec, before.spec, "its spec not written to");
    const ours = (annotations: Record<string, string> = {}) =>
      Object.entries(annotations).filter(([key]) => !key.startsWith("deployment.kubernetes.io/"));
    assert.deepEqual(
      ours(after.metadata.annotations),
      ours(before.metadata.annotations),
      "its annotations not written to",
    );
    assert.deepEqual(after.metadata.labels, before.metadata.labels, "its labels not written to");
    assert.deepEqual(after.metadata.ownerReferences, before.metadata.ownerReferences, "not adopted");
    const writers = (after.metadata.managedFields ?? []).map((entry) => entry.manager);
    assert.ok(!writers.includes("serin"), `written only by ${writers.join(", ")}`);
    assert.equal(after.spec.template?.spec?.containers?.[0]?.image, "registry.example/theirs:7");
    assert.equal(await journey.image(), "registry.example/web:1.0.0", "the primary is untouched");

    await env.cp.kubectl(["label", "deployment", "web", "-n", journey.namespace, "serin.dev/canary-"]);
    await journey.waitFor(async () => (await journey.weights()) === undefined, "serin's split to be removed");
    assert.ok(
      await journey.exists("deployment", "web-canary"),
      "someone else's Deployment is not deleted at opt-out",
    );
  });
  test("another team's TrafficSplit named after the Service: not written to, the Deployment waits; once it goes, serin's own takes its place", async () => {
    const journey = new Journey(env.cp, "taken-split", route);
    assert.equal((await env.cp.kubectl(["create", "namespace", journey.namespace])).code, 0);
    await journey.apply(
      JSON.stringify({
        apiVersion: "split.smi-spec.io/v1alpha4",
        kind: "TrafficSplit",
        metadata: { name: "web", labels: { team: "other" } },
        spec: { service: "web", backends: [{ service: "web-blue", weight: 100 }] },
      }),
    );
    const before = await json(journey, "trafficsplit", "web");
    await journey.apply(serviceManifest());
    await journey.apply(journey.manifest("registry.example/web:1.0.0"));
    await journey.waitFor(
      async () =>
        /NameCollision: TrafficSplit \S+ taken-split\/web exists and is not serin's/.test(
          await events(journey),
        ),
      "an event naming the split in the way",
    );
    assert.equal((await journey.status())["serin.dev/phase"], "Initializing");
    const after = await json(journey, "trafficsplit", "web");
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, "not written to");
    assert.equal(after.metadata.labels?.["serin.dev/deployment"], undefined);

    const deleted = await env.cp.kubectl(["delete", "trafficsplit", "web", "-n", journey.namespace]);
    assert.equal(deleted.code, 0, deleted.stderr);
    await journey.waitForPhase("Idle", 40_000);
    assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    const ours = await json(journey, "trafficsplit", "web");
    assert.equal(ours.metadata.labels?.["serin.dev/deployment"], "web");
  });
});
