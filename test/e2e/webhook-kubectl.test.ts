import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { templateRevision } from "../../src/contract/revision.js";
import { deploymentManifest } from "../fixtures/manifests.js";
import { registerWebhook, type SerinWebhook, startSerinWebhook, withControlPlane } from "../harness/index.js";

/** The webhook inside the real API machinery, driven by the real kubectl. */
const env = withControlPlane();
let webhook: SerinWebhook;

async function stored(namespace: string, name = "web"): Promise<V1Deployment> {
  const result = await env.cp.kubectl([
    "get",
    "deployment",
    name,
    "-n",
    namespace,
    "-o",
    "json",
    "--show-managed-fields",
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as V1Deployment;
}

const image = (deployment: V1Deployment) => deployment.spec?.template.spec?.containers[0]?.image;
const annotation = (deployment: V1Deployment, key: string) => deployment.metadata?.annotations?.[key];

async function namespace(name: string): Promise<string> {
  const result = await env.cp.kubectl(["create", "namespace", name]);
  assert.equal(result.code, 0, result.stderr);
  return name;
}

async function apply(manifest: string, ns: string, extra: string[] = []) {
  return env.cp.kubectl(["apply", "-n", ns, "-f", "-", ...extra], { input: manifest });
}

/**
 * What a user wrote is as it was. The resourceVersion cannot tell: the controller manager keeps writing
 * the status while pods roll out. Generation, template, labels and annotations can.
 */
function assertUnchanged(now: V1Deployment, before: V1Deployment, what: string): void {
  assert.equal(now.metadata?.generation, before.metadata?.generation, what);
  assert.deepEqual(now.spec?.template, before.spec?.template, what);
  assert.deepEqual(now.metadata?.labels, before.metadata?.labels, what);
  assert.deepEqual(now.metadata?.annotations, before.metadata?.annotations, what);
}

describe("the webhook with kubectl", () => {
  test("setup: serin webhook registered through a MutatingWebhookConfiguration over TLS", async () => {
    webhook = await startSerinWebhook(env.cp);
    await registerWebhook(env.cp, { port: webhook.port, caBundle: webhook.caBundle });
  });

  test("client-side apply of a new image keeps the old template and holds the new one back, with a warning", async () => {
    const ns = await namespace("client-side");
    const created = await apply(deploymentManifest(), ns);
    assert.equal(created.code, 0, created.stderr);
    const v1 = await stored(ns);
    assert.equal(v1.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");

    const updated = await apply(deploymentManifest({ image: "registry.example/web:2.0.0", replicas: 3 }), ns);
    assert.equal(updated.code, 0, updated.stderr);
    const after = await stored(ns);
    const pending = JSON.parse(annotation(after, "serin.dev/pending-template") ?? "{}");
    const revision = templateRevision(pending);
    assert.equal(image(after), "registry.example/web:1.0.0", "the running template is kept");
    assert.equal(after.spec?.replicas, 3, "other spec changes pass through");
    assert.equal(pending.spec.containers[0].image, "registry.example/web:2.0.0");
    assert.equal(annotation(after, "serin.dev/pending-revision"), revision);
    assert.equal(after.metadata?.labels?.["serin.dev/phase"], "Pending");
    assert.match(
      updated.stderr,
      new RegExp(`Warning: serin: revision ${revision} held back for a canary: steps 10%, 25%, 50%, 75%`),
    );

    const again = await apply(deploymentManifest({ image: "registry.example/web:2.0.0", replicas: 3 }), ns);
    assert.equal(again.code, 0, again.stderr);
    const unchanged = await stored(ns);
    assertUnchanged(unchanged, after, "re-applying changes nothing");
    assert.match(again.stderr, /already in its canary \(Pending\); nothing restarted/);
  });

  test("server-side apply: held back, managed fields stay sane, a second identical apply changes nothing", async () => {
    const ns = await namespace("server-side");
    const flags = ["--server-side", "--field-manager=ci"];
    assert.equal((await apply(deploymentManifest(), ns, flags)).code, 0);
    const updated = await apply(deploymentManifest({ image: "registry.example/web:2.0.0" }), ns, flags);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stderr, /held back for a canary/);
    const after = await stored(ns);
    assert.equal(image(after), "registry.example/web:1.0.0");
    assert.ok(annotation(after, "serin.dev/pending-revision"));
    const managers = (after.metadata?.managedFields ?? []).map(
      (entry) => `${entry.manager}/${entry.operation}`,
    );
    assert.ok(managers.includes("ci/Apply"), `managers: ${managers.join(", ")}`);

    const again = await apply(deploymentManifest({ image: "registry.example/web:2.0.0" }), ns, flags);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /conflict/i);
    const unchanged = await stored(ns);
    assertUnchanged(unchanged, after, "a second identical apply changes nothing");
    assert.equal(
      annotation(unchanged, "serin.dev/pending-revision"),
      annotation(after, "serin.dev/pending-revision"),
    );
  });

  test("a bad annotation fails kubectl apply with the webhook's message and stores nothing", async () => {
    const ns = await namespace("bad-annotation");
    assert.equal((await apply(deploymentManifest(), ns)).code, 0);
    const before = await stored(ns);
    const bad = deploymentManifest({
      annotations: { "serin.dev/steps": "50,10", "serin.dev/step-interval": "fast" },
    });
    const result = await apply(bad, ns);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /denied the request: serin: invalid canary annotations on Deployment bad-annotation\/web/,
    );
    assert.match(result.stderr, /serin\.dev\/steps="50,10" is not strictly increasing: 10 follows 50/);
    assert.match(result.stderr, /serin\.dev\/step-interval="fast" is not a duration/);
    assertUnchanged(await stored(ns), before, "nothing stored");
  });

  test("kubectl apply --dry-run=server shows the held-back template and stores nothing", async () => {
    const ns = await namespace("dry-run");
    assert.equal((await apply(deploymentManifest(), ns)).code, 0);
    const before = await stored(ns);
    const result = await apply(deploymentManifest({ image: "registry.example/web:2.0.0" }), ns, [
      "--dry-run=server",
      "-o",
      "json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const shown = JSON.parse(result.stdout) as V1Deployment;
    assert.equal(image(shown), "registry.example/web:1.0.0");
    assert.equal(shown.metadata?.labels?.["serin.dev/phase"], "Pending");
    const after = await stored(ns);
    assertUnchanged(after, before, "a dry run stores nothing");
    assert.equal(annotation(after, "serin.dev/pending-revision"), undefined);
  });

  test("with the webhook down a labelled Deployment's update is refused, an unlabelled one goes through", async () => {
    const ns = await namespace("webhook-down");
    assert.equal((await apply(deploymentManifest({ name: "web" }), ns)).code, 0);
    assert.equal((await apply(deploymentManifest({ name: "plain", enabled: false }), ns)).code, 0);
    await webhook.stop();
    const labelled = await apply(
      deploymentManifest({ name: "web", image: "registry.example/web:2.0.0" }),
      ns,
    );
    assert.notEqual(labelled.code, 0);
    assert.match(labelled.stderr, /failed calling webhook "deployments\.serin\.dev"/);
    assert.equal(image(await stored(ns, "web")), "registry.example/web:1.0.0");
    const plain = await apply(
      deploymentManifest({ name: "plain", enabled: false, image: "registry.example/web:2.0.0" }),
      ns,
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(image(await stored(ns, "plain")), "registry.example/web:2.0.0");
  });
});
