// The harness itself: a real apiserver with real RBAC, CRDs that install, a webhook the apiserver calls,
// and the Deployment status stand-in doing what `kubectl rollout status` needs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { stringify } from "yaml";
import {
  installCrds,
  registerWebhook,
  startDeploymentStatusStandIn,
  startSerinWebhook,
  unregisterWebhook,
  withControlPlane,
} from "../harness/index.js";

const env = withControlPlane();

function deploymentYaml(name: string, labels: Record<string, string> = {}): string {
  return stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", labels: { app: name, ...labels } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
      },
    },
  });
}

test("the control plane is ready and reports Kubernetes v1.34", async () => {
  const readyz = await env.cp.get("/readyz");
  assert.equal(readyz.status, 200, readyz.body);
  const version = JSON.parse((await env.cp.get("/version")).body) as { gitVersion: string };
  assert.match(version.gitVersion, /^v1\.34\.\d+/);
});

test("kubectl with the admin kubeconfig lists namespaces", async () => {
  const result = await env.cp.kubectl(["get", "ns", "-o", "name"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^namespace\/default$/m);
  assert.match(result.stdout, /^namespace\/kube-system$/m);
});

test("an ordinary user is forbidden from listing secrets: RBAC is enforced", async () => {
  const jane = await env.cp.kubeconfigFor("jane", ["developers"]);
  const result = await env.cp.kubectl(["get", "secrets", "-n", "default"], { kubeconfig: jane });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Forbidden.*User "jane" cannot list resource "secrets"/);
});

test("a service account kubeconfig is that service account for RBAC", async () => {
  const reader = await env.cp.serviceAccountKubeconfig("default", "reader");
  const before = await env.cp.kubectl(["get", "secrets", "-n", "default"], { kubeconfig: reader });
  assert.match(before.stderr, /"system:serviceaccount:default:reader" cannot list resource "secrets"/);

  const granted = await env.cp.kubectl([
    "create",
    "role",
    "read-secrets",
    "--verb=list",
    "--resource=secrets",
  ]);
  assert.equal(granted.code, 0, granted.stderr);
  const bound = await env.cp.kubectl([
    "create",
    "rolebinding",
    "reader-reads-secrets",
    "--role=read-secrets",
    "--serviceaccount=default:reader",
  ]);
  assert.equal(bound.code, 0, bound.stderr);
  const after = await env.cp.kubectl(["get", "secrets", "-n", "default"], { kubeconfig: reader });
  assert.equal(after.code, 0, after.stderr);
});

test("helm 3 and helm 4 reach the control plane", async () => {
  for (const major of [3, 4] as const) {
    const version = await env.cp.helm(major, ["version", "--short"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^v${major}\\.`));
    const list = await env.cp.helm(major, ["list", "--all-namespaces"]);
    assert.equal(list.code, 0, list.stderr);
  }
});

test("CRDs install and their versions show up in kubectl api-versions", async () => {
  await installCrds(env.cp, ["trafficsplit-linkerd-smi", "httproute-gateway", "httproute-linkerd-policy"]);
  const versions = await env.cp.kubectl(["api-versions"]);
  assert.equal(versions.code, 0, versions.stderr);
  for (const groupVersion of [
    "split.smi-spec.io/v1alpha1",
    "split.smi-spec.io/v1alpha2",
    "gateway.networking.k8s.io/v1",
    "policy.linkerd.io/v1beta3",
  ]) {
    assert.match(versions.stdout, new RegExp(`^${groupVersion.replaceAll(".", "\\.")}$`, "m"));
  }
  assert.doesNotMatch(versions.stdout, /^split\.smi-spec\.io\/v1alpha3$/m);

  // linkerd-smi behaviour: written through v1alpha1 with a quantity weight, readable through v1alpha2.
  const split = {
    apiVersion: "split.smi-spec.io/v1alpha1",
    kind: "TrafficSplit",
    metadata: { name: "web", namespace: "default" },
    spec: {
      service: "web",
      backends: [
        { service: "web-stable", weight: 9990 },
        { service: "web-canary", weight: 10 },
      ],
    },
  };
  const created = await env.cp.kubectl(["apply", "-f", "-"], { input: stringify(split) });
  assert.equal(created.code, 0, created.stderr);
  const read = await env.cp.kubectl(["get", "trafficsplits.v1alpha2.split.smi-spec.io", "web", "-o", "json"]);
  assert.equal(read.code, 0, read.stderr);
  const readBack = JSON.parse(read.stdout) as {
    apiVersion: string;
    spec: { backends: { weight: number }[] };
  };
  assert.equal(readBack.apiVersion, "split.smi-spec.io/v1alpha2");
  assert.deepEqual(
    readBack.spec.backends.map((b) => b.weight),
    [9990, 10],
  );

  // The upstream definition adds v1alpha3 and v1alpha4 on top of the same CRD.
  await installCrds(env.cp, ["trafficsplit-smi-upstream"]);
  const upstream = await env.cp.kubectl(["api-versions"]);
  assert.match(upstream.stdout, /^split\.smi-spec\.io\/v1alpha4$/m);
});

test("the status stand-in rolls Deployments out, or holds them unready, or fails them", async (t) => {
  const standIn = await startDeploymentStatusStandIn(env.cp, { delayMs: 300 });
  t.after(() => standIn.stop());

  const apply = async (name: string) => {
    const applied = await env.cp.kubectl(["apply", "-f", "-"], { input: deploymentYaml(name) });
    assert.equal(applied.code, 0, applied.stderr);
  };

  await apply("rolls-out");
  const rolledOut = await env.cp.kubectl(["rollout", "status", "deploy/rolls-out", "--timeout=20s"]);
  assert.equal(rolledOut.code, 0, rolledOut.stderr);
  assert.match(rolledOut.stdout, /successfully rolled out/);

  await standIn.holdUnready("default", "held");
  await apply("held");
  const held = await env.cp.kubectl(["rollout", "status", "deploy/held", "--timeout=3s"]);
  assert.notEqual(held.code, 0);
  assert.match(held.stdout, /0 of 2 updated replicas are available/);

  await standIn.release("default", "held");
  const released = await env.cp.kubectl(["rollout", "status", "deploy/held", "--timeout=20s"]);
  assert.equal(released.code, 0, released.stderr);

  await standIn.fail("default", "held");
  const failed = await env.cp.kubectl(["rollout", "status", "deploy/held", "--timeout=20s"]);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /exceeded its progress deadline/);
});

test("the serin webhook, once registered, labels enabled Deployments' pods stable", async (t) => {
  const webhook = await startSerinWebhook(env.cp);
  t.after(async () => {
    await unregisterWebhook(env.cp);
    await webhook.stop();
  });
  await registerWebhook(env.cp, { port: webhook.port, caBundle: webhook.caBundle });

  const enabled = await env.cp.kubectl(["apply", "-f", "-"], {
    input: deploymentYaml("enabled", { "serin.dev/canary": "enabled" }),
  });
  assert.equal(enabled.code, 0, enabled.stderr);
  const plain = await env.cp.kubectl(["apply", "-f", "-"], { input: deploymentYaml("plain") });
  assert.equal(plain.code, 0, plain.stderr);

  const podLabels = async (name: string) => {
    const result = await env.cp.kubectl([
      "get",
      "deploy",
      name,
      "-o",
      "jsonpath={.spec.template.metadata.labels}",
    ]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Record<string, string>;
  };
  assert.equal((await podLabels("enabled"))["serin.dev/track"], "stable");
  assert.equal((await podLabels("plain"))["serin.dev/track"], undefined);
  assert.ok(
    webhook.logs().some((line) => (JSON.parse(line) as { msg?: string }).msg === "webhook listening"),
  );
});
