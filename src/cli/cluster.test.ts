import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { test } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import { connectCluster, describeClusterError, kubeconfigSource } from "./cluster.js";
import { CliError } from "./exit.js";

const dir = mkdtempSync(join(tmpdir(), "serin-cluster-test-"));

function kubeconfig(file: string, current: string, contexts: Record<string, string | undefined>): string {
  const path = join(dir, file);
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster: {server: 'https://127.0.0.1:6443'}",
    "users:",
    "- name: me",
    "  user: {token: secret}",
    "contexts:",
    ...Object.entries(contexts).flatMap(([name, namespace]) => [
      `- name: ${name}`,
      `  context: {cluster: local, user: me${namespace ? `, namespace: ${namespace}` : ""}}`,
    ]),
    `current-context: '${current}'`,
  ];
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

const shopConfig = kubeconfig("shop.yaml", "shop", { shop: "shop", bare: undefined });

test("the kubeconfig is --kubeconfig, else KUBECONFIG's existing files, else ~/.kube/config, else in-cluster", () => {
  const exists = (path: string) => ["/a", "/c", "/home/me/.kube/config"].includes(path);
  assert.deepEqual(kubeconfigSource("/flag", { KUBECONFIG: "/a" }, exists), {
    kind: "files",
    files: ["/flag"],
  });
  assert.deepEqual(kubeconfigSource(undefined, { KUBECONFIG: ["/a", "/b", "/c"].join(delimiter) }, exists), {
    kind: "files",
    files: ["/a", "/c"],
  });
  assert.deepEqual(kubeconfigSource(undefined, { HOME: "/home/me" }, exists), {
    kind: "files",
    files: ["/home/me/.kube/config"],
  });
  assert.equal(kubeconfigSource(undefined, { KUBECONFIG: "/b", HOME: "/home/me" }, exists).kind, "none");
  assert.deepEqual(
    kubeconfigSource(undefined, { HOME: "/nobody", KUBERNETES_SERVICE_HOST: "10.0.0.1" }, () => true),
    {
      kind: "files",
      files: ["/nobody/.kube/config"],
    },
  );
  assert.deepEqual(
    kubeconfigSource(
      undefined,
      { HOME: "/nobody", KUBERNETES_SERVICE_HOST: "10.0.0.1" },
      (path) => !path.startsWith("/nobody"),
    ),
    { kind: "in-cluster" },
  );
});

test("the namespace is -n, else the context's namespace, else default", () => {
  assert.equal(connectCluster({ kubeconfig: shopConfig }, {}).namespace, "shop");
  assert.equal(connectCluster({ kubeconfig: shopConfig, namespace: "other" }, {}).namespace, "other");
  assert.equal(connectCluster({ kubeconfig: shopConfig, context: "bare" }, {}).namespace, "default");
  assert.equal(connectCluster({}, { KUBECONFIG: shopConfig }).namespace, "shop");
});

test("errors name the kubeconfig, the context and the server", () => {
  const cluster = connectCluster({ kubeconfig: shopConfig }, {});
  assert.equal(cluster.origin, `kubeconfig ${shopConfig}, context shop`);
  assert.equal(cluster.server, "https://127.0.0.1:6443");
  assert.throws(
    () => connectCluster({ kubeconfig: shopConfig, context: "prod" }, {}),
    new CliError(`context "prod" is not in kubeconfig ${shopConfig}; it has: shop, bare`),
  );
  assert.throws(
    () => connectCluster({ kubeconfig: join(dir, "missing.yaml") }, {}),
    new CliError(`kubeconfig ${join(dir, "missing.yaml")}: no such file`),
  );
  assert.throws(
    () => connectCluster({}, { HOME: join(dir, "no-home") }),
    /^Error: no kubeconfig found: tried .*no-home\/\.kube\/config \(no such file\)/,
  );
  const noContext = kubeconfig("none.yaml", "", { shop: "shop" });
  assert.throws(
    () => connectCluster({ kubeconfig: noContext }, {}),
    new CliError(`kubeconfig ${noContext} has no current context: pass --context (contexts: shop)`),
  );
});

test("KUBECONFIG's files merge as kubectl merges them: the first to name something wins", () => {
  const second = kubeconfig("second.yaml", "bare", { shop: "not-shop", prod: "payments" });
  const merged = connectCluster({}, { KUBECONFIG: [shopConfig, second].join(delimiter) });
  assert.equal(merged.namespace, "shop", "the first file's current context and its namespace");
  assert.equal(
    connectCluster({ context: "prod" }, { KUBECONFIG: [shopConfig, second].join(delimiter) }).namespace,
    "payments",
  );
});

test("-A is carried to the command, and the namespace is still resolved for its messages", () => {
  const cluster = connectCluster({ kubeconfig: shopConfig, allNamespaces: true }, {});
  assert.equal(cluster.allNamespaces, true);
  assert.equal(cluster.namespace, "shop");
});

test("what went wrong names the cluster: unreachable, too slow, refused", () => {
  const cluster = {
    server: "https://127.0.0.1:1",
    origin: "kubeconfig /k, context x",
    requestTimeoutMs: 30_000,
  };
  // node-fetch's FetchError, as client-node throws it when the connection is refused
  const refused = Object.assign(
    new Error(
      "request to https://127.0.0.1:1/apis/apps/v1/namespaces/shop/deployments/web failed, reason: connect ECONNREFUSED 127.0.0.1:1",
    ),
    { type: "system", code: "ECONNREFUSED", errno: "ECONNREFUSED" },
  );
  assert.equal(
    describeClusterError(refused, cluster),
    "cannot reach the cluster at https://127.0.0.1:1 (kubeconfig /k, context x): connect ECONNREFUSED 127.0.0.1:1",
  );
  const aborted = Object.assign(new Error("The user aborted a request."), {
    name: "AbortError",
    type: "aborted",
  });
  assert.equal(
    describeClusterError(aborted, cluster),
    "cannot reach the cluster at https://127.0.0.1:1 (kubeconfig /k, context x): no answer within 30s",
  );
  const forbidden = new ApiException(
    403,
    "Forbidden",
    JSON.stringify({ message: 'deployments.apps "web" is forbidden' }),
    {},
  );
  assert.equal(
    describeClusterError(forbidden, cluster),
    'the cluster at https://127.0.0.1:1 (kubeconfig /k, context x) refused: deployments.apps "web" is forbidden',
  );
});
