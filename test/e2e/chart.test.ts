import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readAuditLog } from "../harness/audit.js";
import {
  type LocalKubelet,
  repoRoot,
  startLocalKubelet,
  waitFor,
  withControlPlane,
} from "../harness/index.js";

/**
 * The chart as a platform team installs it, with its pods really running: the local kubelet runs serin's
 * image file set as processes on two Nodes of its own (src/localcluster/README.md), and the apiserver
 * calls the webhook at their addresses through the Service. Helm 3, then Helm 4, each through the whole
 * life of a release, in a namespace where Pod Security Admission enforces "restricted".
 */
const env = withControlPlane({ auditLog: true, endpointRouting: true, crds: ["trafficsplit-linkerd-smi"] });
const chart = join(repoRoot, "charts", "serin");
const ns = "serin-system";
const shop = "shop";
let kubelet: LocalKubelet;

// biome-ignore lint/suspicious/noExplicitAny: JSON as kubectl prints it, read field by field
type Json = Record<string, any>;

async function json(args: string[]): Promise<Json> {
  const result = await env.cp.kubectl([...args, "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function kubectl(args: string[], input?: string) {
  const result = await env.cp.kubectl(args, input === undefined ? {} : { input });
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

function placementArgs(): string[] {
  return [
    "--set-json",
    `nodeSelector=${JSON.stringify(kubelet.placement.nodeSelector)}`,
    "--set-json",
    `tolerations=${JSON.stringify(kubelet.placement.tolerations)}`,
  ];
}

function podLogs(pods: Json[]): string {
  return pods
    .map(
      (pod) =>
        `--- ${pod.metadata.name}\n${kubelet.containerLog(ns, pod.metadata.name).split("\n").slice(-15).join("\n")}`,
    )
    .join("\n");
}

function webDeployment(image: string): string {
  const labels = { app: "web" };
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: shop, labels: { ...labels, "serin.dev/canary": "enabled" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "web", image }] } },
    },
  });
}

test("setup: the local kubelet registers two Nodes of its own", async () => {
  kubelet = await startLocalKubelet(env.cp, { image: "serin:0.1.0" });
  const nodes = await json(["get", "nodes", "-l", "serin.dev/local-kubelet=true"]);
  assert.deepEqual(nodes.items.map((node: Json) => node.metadata.name).sort(), kubelet.nodeNames);
});

test("the values schema refuses a wrong type and an unknown key, naming the key", async () => {
  const wrongType = await env.cp.helm(3, ["template", "serin", chart, "--set", "replicas=abc"]);
  assert.notEqual(wrongType.code, 0);
  assert.match(wrongType.stderr, /replicas/);
  const unknown = await env.cp.helm(4, ["template", "serin", chart, "--set", "replica=3"]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /replica\b.*not allowed|additional propert.*replica/i);
  const nested = await env.cp.helm(3, [
    "template",
    "serin",
    chart,
    "--set",
    "webhook.failurePolicy=Sometimes",
  ]);
  assert.notEqual(nested.code, 0);
  assert.match(nested.stderr, /failurePolicy/);
});

test("one replica renders no disruption budget; two render minAvailable 1", async () => {
  const one = await env.cp.helm(3, ["template", "serin", chart, "-n", ns, "--set", "replicas=1"]);
  assert.equal(one.code, 0, one.stderr);
  assert.doesNotMatch(one.stdout, /kind: PodDisruptionBudget/);
  const two = await env.cp.helm(3, [
    "template",
    "serin",
    chart,
    "-n",
    ns,
    "--set",
    "priorityClassName=system-cluster-critical",
  ]);
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stdout, /kind: PodDisruptionBudget[\s\S]*minAvailable: 1/);
  assert.match(two.stdout, /priorityClassName: system-cluster-critical/);
});

for (const major of [3, 4] as const) {
  describe(`Helm ${major}: install, helm test, upgrade, rollback, uninstall`, () => {
    const helm = (args: string[], timeoutMs = 240_000) => env.cp.helm(major, args, { timeoutMs });

    test("install: two Ready replicas on two nodes under the restricted Pod Security Standard, one leader", async () => {
      await kubectl(["create", "namespace", ns]);
      // Pod Security Admission refuses any pod of the release that is not "restricted".
      await kubectl(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
      const install = await helm([
        "install",
        "serin",
        chart,
        "-n",
        ns,
        ...placementArgs(),
        "--wait",
        "--timeout",
        "3m",
      ]);
      const pods = (await json(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=serin"]))
        .items as Json[];
      assert.equal(install.code, 0, `${install.stderr}\n${podLogs(pods)}`);
      assert.match(install.stdout, /helm test serin -n serin-system/, "NOTES.txt says what to do next");
      assert.match(install.stdout, /serin\.dev\/canary=enabled/);

      assert.equal(pods.length, 2);
      for (const pod of pods) {
        const ready = pod.status.conditions.find((condition: Json) => condition.type === "Ready");
        assert.equal(ready?.status, "True", `${pod.metadata.name} is Ready`);
        assert.match(pod.status.podIP, /^10\.250\./);
      }
      assert.deepEqual(
        new Set(pods.map((pod) => pod.spec.nodeName)),
        new Set(kubelet.nodeNames),
        "one replica per node",
      );
      const spec = pods[0]?.spec;
      assert.deepEqual(spec.securityContext.seccompProfile, { type: "RuntimeDefault" });
      assert.equal(spec.securityContext.runAsNonRoot, true);
      assert.deepEqual(spec.containers[0].securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
      const budget = await json(["get", "pdb", "serin", "-n", ns]);
      assert.equal(budget.spec.minAvailable, 1);

      const names = pods.map((pod) => pod.metadata.name as string);
      await waitFor(
        async () => {
          const lease = await json(["get", "lease", "serin-watcher", "-n", ns]);
          const holder: string = lease.spec?.holderIdentity ?? "";
          return names.some((name) => holder.startsWith(`${name}-`)) ? holder : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: "one replica to hold the leader Lease" },
      );
    });

    test("a labelled Deployment's new template is held back by the webhook, called through the Service", async () => {
      await kubectl(["create", "namespace", shop]);
      await kubectl(["apply", "-f", "-"], webDeployment("registry.example/web:1"));
      const created = await json(["get", "deployment", "web", "-n", shop]);
      assert.equal(created.spec.template.metadata.labels["serin.dev/track"], "stable");
      await kubectl(["apply", "-f", "-"], webDeployment("registry.example/web:2"));
      const held = await json(["get", "deployment", "web", "-n", shop]);
      assert.equal(held.spec.template.spec.containers[0].image, "registry.example/web:1");
      const pending = JSON.parse(held.metadata.annotations["serin.dev/pending-template"]);
      assert.equal(pending.spec.containers[0].image, "registry.example/web:2");
    });

    test("helm test: the chart's own check passes", async () => {
      const result = await helm(["test", "serin", "-n", ns, "--timeout", "2m"]);
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /serin-test[\s\S]*Succeeded/);
    });

    test("upgrade keeps the CA; rollback brings the old values back", async () => {
      const secret = await json(["get", "secret", "serin-webhook-tls", "-n", ns]);
      const upgrade = await helm([
        "upgrade",
        "serin",
        chart,
        "-n",
        ns,
        "--reuse-values",
        "--set",
        "webhook.failurePolicy=Ignore",
        "--wait",
        "--timeout",
        "3m",
      ]);
      assert.equal(upgrade.code, 0, upgrade.stderr);
      const after = await json(["get", "secret", "serin-webhook-tls", "-n", ns]);
      assert.equal(after.data["ca.crt"], secret.data["ca.crt"], "the CA survives an upgrade");
      assert.equal(after.data["tls.crt"], secret.data["tls.crt"]);
      const upgraded = await json(["get", "mutatingwebhookconfiguration", "serin"]);
      assert.equal(upgraded.webhooks[0].failurePolicy, "Ignore");
      assert.equal(upgraded.webhooks[0].clientConfig.caBundle, secret.data["ca.crt"]);

      const rollback = await helm(["rollback", "serin", "1", "-n", ns, "--wait", "--timeout", "3m"]);
      assert.equal(rollback.code, 0, rollback.stderr);
      const rolledBack = await json(["get", "mutatingwebhookconfiguration", "serin"]);
      assert.equal(rolledBack.webhooks[0].failurePolicy, "Fail");
      assert.equal(rolledBack.webhooks[0].clientConfig.caBundle, secret.data["ca.crt"]);
      const check = await helm(["test", "serin", "-n", ns, "--timeout", "2m"]);
      assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    });

    test("uninstall: the webhook configuration goes first, then nothing of serin is left", async () => {
      const started = Date.now();
      const uninstall = await helm(["uninstall", "serin", "-n", ns, "--wait", "--timeout", "3m"]);
      assert.equal(uninstall.code, 0, uninstall.stderr);

      const deletes = (await readAuditLog(env.cp.auditLogFile as string)).filter(
        (entry) => entry.verb === "delete" && entry.at >= started - 1_000,
      );
      const at = (resource: string, name: string) =>
        deletes.findIndex((entry) => entry.resource === resource && entry.name === name);
      const webhookGone = at("mutatingwebhookconfigurations", "serin");
      assert.ok(webhookGone >= 0, "the webhook configuration was deleted");
      assert.ok(webhookGone < at("deployments", "serin"), "before serin's Deployment (the pre-delete hook)");
      assert.ok(webhookGone < at("services", "serin"), "before its Service");

      // The held-back Deployment can be changed again: nothing is left to call.
      await kubectl(["apply", "-f", "-"], webDeployment("registry.example/web:3"));

      const kinds = (await kubectl(["api-resources", "--verbs=list", "-o", "name"]))
        .split("\n")
        .filter(Boolean);
      const listable = kinds.filter((kind) => !/^(events|events\.events\.k8s\.io)$/.test(kind)).join(",");
      const left = await waitFor(
        async () => {
          const all = (await json(["get", listable, "-A"])).items as Json[];
          const namespaceOwn = ["ServiceAccount/default", "ConfigMap/kube-root-ca.crt"];
          const ours = all.filter((object) => {
            // The namespaces are the test's own (deleted below), not the release's.
            if (object.kind === "Namespace") return false;
            const name: string = object.metadata?.name ?? "";
            if (object.metadata?.labels?.["app.kubernetes.io/name"] === "serin") return true;
            if (/^serin(-|$)/.test(name)) return true;
            // What every namespace holds (its default ServiceAccount and root CA) aside.
            return object.metadata?.namespace === ns && !namespaceOwn.includes(`${object.kind}/${name}`);
          });
          if (ours.length > 0)
            throw new Error(
              ours
                .map((object) => `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`)
                .join(", "),
            );
          return ours;
        },
        { timeoutMs: 90_000, intervalMs: 1_000, what: "nothing of serin to be left" },
      );
      assert.deepEqual(left, []);
      await kubectl(["delete", "namespace", ns, shop, "--wait=true", "--timeout=120s"]);
    });
  });
}
