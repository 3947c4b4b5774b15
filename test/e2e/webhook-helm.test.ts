import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { registerWebhook, repoRoot, startSerinWebhook, withControlPlane } from "../harness/index.js";

/** `helm upgrade --install` of a service owner's chart, with the webhook holding new templates back. */
const env = withControlPlane();
const chart = join(repoRoot, "test", "fixtures", "charts", "web");

for (const major of [3, 4] as const) {
  describe(`Helm ${major}`, () => {
    const ns = `helm${major}`;

    const upgrade = (image: string) =>
      env.cp.helm(major, [
        "upgrade",
        "--install",
        "web",
        chart,
        "-n",
        ns,
        "--set",
        `image=${image}`,
        "--wait=false",
      ]);

    async function stored(): Promise<V1Deployment> {
      const result = await env.cp.kubectl(["get", "deployment", "web", "-n", ns, "-o", "json"]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as V1Deployment;
    }

    test("setup", async () => {
      if (major === 3) {
        const webhook = await startSerinWebhook(env.cp);
        await registerWebhook(env.cp, { port: webhook.port, caBundle: webhook.caBundle });
      }
      assert.equal((await env.cp.kubectl(["create", "namespace", ns])).code, 0);
    });

    test("install, upgrade to a new image, then the same again: held back, no errors, no conflicts", async () => {
      const installed = await upgrade("registry.example/web:1.0.0");
      assert.equal(installed.code, 0, installed.stderr);
      const v1 = await stored();
      assert.equal(v1.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");

      const upgraded = await upgrade("registry.example/web:2.0.0");
      assert.equal(upgraded.code, 0, upgraded.stderr);
      assert.doesNotMatch(upgraded.stderr, /conflict/i);
      const held = await stored();
      assert.equal(held.spec?.template.spec?.containers[0]?.image, "registry.example/web:1.0.0");
      const pending = JSON.parse(held.metadata?.annotations?.["serin.dev/pending-template"] ?? "{}");
      assert.equal(pending.spec.containers[0].image, "registry.example/web:2.0.0");
      assert.equal(held.metadata?.labels?.["serin.dev/phase"], "Pending");

      const again = await upgrade("registry.example/web:2.0.0");
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /conflict/i);
      const same = await stored();
      assert.equal(same.spec?.template.spec?.containers[0]?.image, "registry.example/web:1.0.0");
      assert.equal(
        same.metadata?.annotations?.["serin.dev/pending-revision"],
        held.metadata?.annotations?.["serin.dev/pending-revision"],
      );
      assert.equal(same.metadata?.labels?.["serin.dev/phase"], "Pending", "nothing restarted");
    });
  });
}
