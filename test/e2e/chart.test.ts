import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot, withControlPlane } from "../harness/index.js";

/**
 * The chart as a platform team installs it. Nothing runs pods here, so this checks what the API server
 * stores: the objects validate, the webhook configuration carries the generated CA, and an upgrade
 * keeps that CA (and the serving certificate) instead of breaking TLS with a new one.
 */
const env = withControlPlane();
const chart = join(repoRoot, "charts", "serin");

async function json(args: string[]) {
  const result = await env.cp.kubectl([...args, "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

test("helm install, then upgrade: objects stored, CA generated once and kept, failurePolicy selectable", async () => {
  const install = await env.cp.helm(3, [
    "install",
    "serin",
    chart,
    "-n",
    "serin-system",
    "--create-namespace",
  ]);
  assert.equal(install.code, 0, install.stderr);

  const secret = await json(["get", "secret", "serin-webhook-tls", "-n", "serin-system"]);
  const config = await json(["get", "mutatingwebhookconfiguration", "serin"]);
  const [webhook] = config.webhooks;
  assert.equal(webhook.name, "deployments.serin.dev");
  assert.equal(webhook.clientConfig.caBundle, secret.data["ca.crt"], "the webhook trusts the generated CA");
  assert.deepEqual(webhook.clientConfig.service, {
    name: "serin",
    namespace: "serin-system",
    path: "/mutate",
    port: 443,
  });
  assert.equal(webhook.failurePolicy, "Fail");
  assert.equal(webhook.timeoutSeconds, 5);
  assert.equal(webhook.sideEffects, "None");
  assert.deepEqual(webhook.objectSelector, { matchLabels: { "serin.dev/canary": "enabled" } });
  assert.deepEqual(webhook.namespaceSelector.matchExpressions[0].values, ["serin-system", "kube-system"]);

  const deployment = await json(["get", "deployment", "serin", "-n", "serin-system"]);
  const args: string[] = deployment.spec.template.spec.containers[0].args;
  assert.ok(
    args.includes("run") &&
      args.includes("--leader-elect") &&
      args.includes("--lease-namespace=serin-system"),
  );
  assert.equal(deployment.spec.template.spec.serviceAccountName, "serin");
  const role = await json(["get", "clusterrole", "serin"]);
  assert.ok(role.rules.some((rule: { resources: string[] }) => rule.resources.includes("trafficsplits")));

  const upgrade = await env.cp.helm(3, [
    "upgrade",
    "serin",
    chart,
    "-n",
    "serin-system",
    "--set",
    "webhook.failurePolicy=Ignore",
  ]);
  assert.equal(upgrade.code, 0, upgrade.stderr);
  const after = await json(["get", "secret", "serin-webhook-tls", "-n", "serin-system"]);
  assert.equal(after.data["ca.crt"], secret.data["ca.crt"], "the CA survives an upgrade");
  assert.equal(after.data["tls.crt"], secret.data["tls.crt"]);
  const upgraded = await json(["get", "mutatingwebhookconfiguration", "serin"]);
  assert.equal(upgraded.webhooks[0].failurePolicy, "Ignore");
  assert.equal(upgraded.webhooks[0].clientConfig.caBundle, secret.data["ca.crt"]);
});
