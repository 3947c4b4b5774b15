import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { repoRoot, withControlPlane } from "../harness/index.js";

/**
 * What serin's service account may do once the chart is installed, asked of the apiserver as that
 * account (`kubectl auth can-i`, and real dry-run writes where an admission policy decides): exactly
 * what the watcher and the routers need, and none of what a stolen token could be worth more for.
 */
const env = withControlPlane({
  crds: ["trafficsplit-smi-upstream", "httproute-gateway", "httproute-linkerd-policy"],
});
const chart = join(repoRoot, "charts", "serin");
const ROUTES = [
  "trafficsplits.split.smi-spec.io",
  "httproutes.gateway.networking.k8s.io",
  "httproutes.policy.linkerd.io",
];

type Where = string | "all";
type Check = [verb: string, resource: string, where: Where];

let serin = "";

async function canI([verb, resource, where]: Check): Promise<boolean> {
  const [name, subresource] = resource.split("/");
  const scope = where === "all" ? ["--all-namespaces"] : where === "" ? [] : ["-n", where];
  const result = await env.cp.kubectl(
    [
      "auth",
      "can-i",
      verb,
      name as string,
      ...(subresource ? [`--subresource=${subresource}`] : []),
      ...scope,
    ],
    { kubeconfig: serin },
  );
  assert.match(result.stdout.trim(), /^(yes|no)$/, `${verb} ${resource}: ${result.stdout} ${result.stderr}`);
  return result.stdout.trim() === "yes";
}

/** Every check answered as expected, or the list of those that were not. */
async function expectAll(checks: readonly Check[], expected: boolean): Promise<void> {
  const answers = await Promise.all(checks.map(canI));
  const wrong = checks.filter((_, index) => answers[index] !== expected).map((check) => check.join(" "));
  assert.deepEqual(wrong, [], `serin ${expected ? "cannot" : "can"}: ${wrong.join(", ")}`);
}

async function kubectl(args: string[], kubeconfig?: string) {
  return env.cp.kubectl(args, kubeconfig ? { kubeconfig } : {});
}

async function json(args: string[]) {
  const result = await kubectl([...args, "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function helm(args: string[]) {
  const result = await env.cp.helm(3, args);
  assert.equal(result.code, 0, result.stderr);
}

const every = (verbs: string[], resource: string, where: Where): Check[] =>
  verbs.map((verb) => [verb, resource, where]);

describe("serin's rights, as its service account sees them", () => {
  before(async () => {
    for (const namespace of ["shop", "books"])
      assert.equal((await kubectl(["create", "namespace", namespace])).code, 0);
    await helm(["install", "serin", chart, "-n", "serin-system", "--create-namespace"]);
    serin = await env.cp.serviceAccountKubeconfig("serin-system", "serin");
  });

  test("cluster-wide: it may do what the watcher and the routers do, in any application namespace", async () => {
    await expectAll(
      [
        ...every(["get", "list", "watch", "create", "update", "patch", "delete"], "deployments.apps", "shop"),
        ...every(["get", "list", "watch", "create", "patch", "delete"], "services", "shop"),
        ["create", "events", "books"],
        ...ROUTES.flatMap((route) =>
          every(["get", "list", "watch", "create", "update", "delete"], route, "books"),
        ),
        ...["deployments.apps", "services", ...ROUTES].flatMap((resource) =>
          every(["list", "watch"], resource, "all"),
        ),
        ...every(["get", "create", "patch"], "leases.coordination.k8s.io", "serin-system"),
      ],
      true,
    );
  });

  test("cluster-wide: no Secrets, no Pods or exec, no RBAC, no cluster-scoped writes, no Leases but its own", async () => {
    await expectAll(
      [
        ...["shop", "serin-system", "kube-system", "all"].flatMap((where) =>
          every(["get", "list", "watch"], "secrets", where),
        ),
        ["create", "secrets", "shop"],
        ["list", "pods", "all"],
        ["create", "pods/exec", "shop"],
        ["get", "pods/log", "shop"],
        ["create", "pods", "shop"],
        ["get", "configmaps", "shop"],
        ["create", "serviceaccounts/token", "serin-system"],
        ["update", "services", "shop"],
        ["patch", "trafficsplits.split.smi-spec.io", "shop"],
        ["create", "roles.rbac.authorization.k8s.io", "shop"],
        ["create", "rolebindings.rbac.authorization.k8s.io", "shop"],
        ["impersonate", "users", ""],
        ["update", "leases.coordination.k8s.io", "kube-node-lease"],
        ["create", "leases.coordination.k8s.io", "shop"],
        ...[
          "namespaces",
          "nodes",
          "persistentvolumes",
          "clusterroles.rbac.authorization.k8s.io",
          "clusterrolebindings.rbac.authorization.k8s.io",
          "customresourcedefinitions.apiextensions.k8s.io",
          "mutatingwebhookconfigurations.admissionregistration.k8s.io",
          "validatingadmissionpolicies.admissionregistration.k8s.io",
        ].flatMap((resource) => every(["create", "update", "delete"], resource, "")),
      ],
      false,
    );
  });

  test("cluster-wide: the apiserver refuses serin's writes in kube-system, which RBAC alone cannot leave out", async () => {
    assert.equal(
      (await kubectl(["create", "service", "clusterip", "probe", "--tcp=80", "-n", "kube-system"])).code,
      0,
    );
    const writes = [
      ["create", "deployment", "probe", "--image=registry.example/probe:1"],
      ["create", "service", "clusterip", "probe-2", "--tcp=80"],
      ["label", "service", "probe", "serin.dev/deployment=probe"],
      ["delete", "service", "probe"],
    ];
    for (const write of writes) {
      const inKubeSystem = await kubectl([...write, "-n", "kube-system", "--dry-run=server"], serin);
      assert.notEqual(inKubeSystem.code, 0, write.join(" "));
      assert.match(inKubeSystem.stderr, /serin does not write in kube-system, kube-public, kube-node-lease/);
    }
    // The same write elsewhere passes: the refusal is the policy's, not a missing right.
    const inShop = await kubectl([...(writes[0] as string[]), "-n", "shop", "--dry-run=server"], serin);
    assert.equal(inShop.code, 0, inShop.stderr);
  });

  test("only the webhook port takes ingress, from anywhere unless CIDRs are listed", async () => {
    const policy = await json(["get", "networkpolicy", "serin", "-n", "serin-system"]);
    const deployment = await json(["get", "deployment", "serin", "-n", "serin-system"]);
    assert.deepEqual(policy.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels);
    assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
    assert.deepEqual(policy.spec.ingress, [{ ports: [{ port: 8443, protocol: "TCP" }] }]);
    await helm([
      "upgrade",
      "serin",
      chart,
      "-n",
      "serin-system",
      "--set",
      "networkPolicy.webhookFrom={10.0.0.0/8}",
    ]);
    const narrowed = await json(["get", "networkpolicy", "serin", "-n", "serin-system"]);
    assert.deepEqual(narrowed.spec.ingress[0].from, [{ ipBlock: { cidr: "10.0.0.0/8" } }]);
  });

  test("watchNamespaces: Roles in those namespaces only, nothing cluster-wide, the webhook and the watcher kept inside", async () => {
    await helm(["upgrade", "serin", chart, "-n", "serin-system", "--set", "watchNamespaces={shop}"]);
    await expectAll(
      [
        ...every(["get", "list", "watch", "create", "update", "patch", "delete"], "deployments.apps", "shop"),
        ...every(["create", "patch", "delete"], "services", "shop"),
        ["create", "trafficsplits.split.smi-spec.io", "shop"],
        ["patch", "leases.coordination.k8s.io", "serin-system"],
      ],
      true,
    );
    await expectAll(
      [
        ["list", "deployments.apps", "all"],
        ["list", "services", "all"],
        ...every(["create", "update", "delete"], "deployments.apps", "books"),
        ...every(["create", "update", "delete"], "deployments.apps", "kube-system"),
        ["create", "services", "kube-system"],
        ["get", "secrets", "shop"],
      ],
      false,
    );
    assert.notEqual((await kubectl(["get", "clusterrole", "serin"])).code, 0, "no ClusterRole left");
    const webhook = (await json(["get", "mutatingwebhookconfiguration", "serin"])).webhooks[0];
    assert.deepEqual(webhook.namespaceSelector.matchExpressions, [
      { key: "kubernetes.io/metadata.name", operator: "In", values: ["shop"] },
    ]);
    const deployment = await json(["get", "deployment", "serin", "-n", "serin-system"]);
    assert.ok(deployment.spec.template.spec.containers[0].args.includes("--watch-namespace=shop"));
    const refused = await env.cp.helm(3, [
      "template",
      "serin",
      chart,
      "--set",
      "watchNamespaces={shop,kube-system}",
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /watchNamespaces lists kube-system, which protectedNamespaces keeps serin out of/,
    );
  });
});
