// The harness itself: a real apiserver with real RBAC, CRDs that install, a webhook the apiserver calls,
// and the real controllers, scheduler and kwok doing what a cluster does with a Deployment.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parse, stringify } from "yaml";
import {
  installCrds,
  KWOK_NODE,
  registerWebhook,
  startSerinWebhook,
  UNREADY_ANNOTATION,
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

test("the control plane is ready and reports the Kubernetes version it was started as", async () => {
  const readyz = await env.cp.get("/readyz");
  assert.equal(readyz.status, 200, readyz.body);
  const version = JSON.parse((await env.cp.get("/version")).body) as { gitVersion: string };
  assert.ok(
    version.gitVersion.startsWith(`v${env.cp.kubernetesVersion}.`),
    `${version.gitVersion} is not ${env.cp.kubernetesVersion}`,
  );
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

test("the real controllers roll a Deployment out: ReplicaSet, scheduled pods on kwok's Node, Ready", async () => {
  const applied = await env.cp.kubectl(["apply", "-f", "-"], { input: deploymentYaml("rolls-out") });
  assert.equal(applied.code, 0, applied.stderr);
  const rolledOut = await env.cp.kubectl(["rollout", "status", "deploy/rolls-out", "--timeout=60s"]);
  assert.equal(rolledOut.code, 0, rolledOut.stderr);
  assert.match(rolledOut.stdout, /successfully rolled out/);

  const pods = await env.cp.kubectl(["get", "pods", "-l", "app=rolls-out", "-o", "json"]);
  const items = (
    JSON.parse(pods.stdout) as {
      items: {
        metadata: { ownerReferences?: { kind: string }[] };
        spec: { nodeName?: string; serviceAccountName?: string };
        status: { phase: string; podIP?: string };
      }[];
    }
  ).items;
  assert.equal(items.length, 2);
  for (const pod of items) {
    assert.equal(
      pod.metadata.ownerReferences?.[0]?.kind,
      "ReplicaSet",
      "created by the ReplicaSet controller",
    );
    assert.equal(pod.spec.nodeName, KWOK_NODE, "placed by the scheduler");
    assert.equal(pod.spec.serviceAccountName, "default", "admitted with the namespace's ServiceAccount");
    assert.equal(pod.status.phase, "Running");
    assert.ok(pod.status.podIP, "kwok gave the pod an address");
  }
});

test("pods annotated never-ready stay unready, and the controller reports the progress deadline", async () => {
  const manifest = parse(deploymentYaml("held")) as {
    spec: {
      progressDeadlineSeconds?: number;
      template: { metadata: { annotations?: Record<string, string> } };
    };
  };
  manifest.spec.progressDeadlineSeconds = 3;
  manifest.spec.template.metadata.annotations = { [UNREADY_ANNOTATION]: "true" };
  const applied = await env.cp.kubectl(["apply", "-f", "-"], { input: stringify(manifest) });
  assert.equal(applied.code, 0, applied.stderr);
  const failed = await env.cp.kubectl(["rollout", "status", "deploy/held", "--timeout=60s"]);
  assert.notEqual(failed.code, 0);
  assert.match(failed.stderr, /exceeded its progress deadline/);
  const pods = await env.cp.kubectl([
    "get",
    "pods",
    "-l",
    "app=held",
    "-o",
    "jsonpath={.items[*].status.phase}",
  ]);
  assert.equal(pods.stdout.trim(), "Pending Pending");
});

test("deleting a Deployment garbage-collects its ReplicaSet and pods", async () => {
  const applied = await env.cp.kubectl(["apply", "-f", "-"], { input: deploymentYaml("collected") });
  assert.equal(applied.code, 0, applied.stderr);
  const rolledOut = await env.cp.kubectl(["rollout", "status", "deploy/collected", "--timeout=60s"]);
  assert.equal(rolledOut.code, 0, rolledOut.stderr);
  assert.equal((await env.cp.kubectl(["delete", "deploy", "collected", "--wait=false"])).code, 0);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const left = await env.cp.kubectl(["get", "rs,pods", "-l", "app=collected", "-o", "name"]);
    if (left.stdout.trim() === "") break;
    assert.ok(Date.now() < deadline, `still there after 60 s: ${left.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
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
