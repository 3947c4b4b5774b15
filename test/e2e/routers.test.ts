// The traffic routers against a real kube-apiserver with the third-party CRDs as meshes install them:
// what serin writes validates, reads back exactly through kubectl, survives other writers, and goes away.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { apiErrorCode } from "../../src/kube-errors.js";
import { createRouter } from "../../src/routers/factory.js";
import { httpRouteApiFor } from "../../src/routers/httproute.js";
import { HttpRouteRouter } from "../../src/routers/httproute-router.js";
import type { CustomObjects } from "../../src/routers/object-router.js";
import type { Router, RouteTarget } from "../../src/routers/router.js";
import { SmiRouter } from "../../src/routers/smi-router.js";
import { canaryWeights, STABLE_ONLY } from "../../src/routers/weights.js";
import { type CrdName, installCrds, withControlPlane } from "../harness/index.js";

const env = withControlPlane();

/** Passes calls through to the apiserver and logs them; a hook plays another writer before a replace. */
class RecordingObjects implements CustomObjects {
  readonly calls: string[] = [];
  /** Runs once, before the next replace is sent. */
  beforeReplace: (() => Promise<void>) | undefined;

  constructor(private readonly inner: CustomObjects) {}

  private async pass<T>(verb: string, call: () => Promise<T>): Promise<T> {
    this.calls.push(verb);
    try {
      return await call();
    } catch (error) {
      this.calls.push(`${verb} failed with ${apiErrorCode(error)}`);
      throw error;
    }
  }

  getNamespacedCustomObject(param: Parameters<CustomObjects["getNamespacedCustomObject"]>[0]) {
    return this.pass("get", () => this.inner.getNamespacedCustomObject(param));
  }

  createNamespacedCustomObject(param: Parameters<CustomObjects["createNamespacedCustomObject"]>[0]) {
    return this.pass("create", () => this.inner.createNamespacedCustomObject(param));
  }

  async replaceNamespacedCustomObject(param: Parameters<CustomObjects["replaceNamespacedCustomObject"]>[0]) {
    const hook = this.beforeReplace;
    this.beforeReplace = undefined;
    await hook?.();
    return this.pass("replace", () => this.inner.replaceNamespacedCustomObject(param));
  }

  deleteNamespacedCustomObject(param: Parameters<CustomObjects["deleteNamespacedCustomObject"]>[0]) {
    return this.pass("delete", () => this.inner.deleteNamespacedCustomObject(param));
  }

  clear(): void {
    this.calls.length = 0;
  }
}

interface RawSplit {
  stable: unknown;
  canary: unknown;
  /** How many backends the object sends to, serin's or not. */
  backends: number;
}

interface Flavour {
  crds: CrdName[];
  namespace: string;
  /** Fully qualified for kubectl, version included: both HTTPRoute groups have the kind HTTPRoute. */
  resource: string;
  router(objects: CustomObjects): Router;
  /** The weights exactly as kubectl prints them, found by backend name. */
  raw(object: Record<string, unknown>): RawSplit;
}

type Json = Record<string, unknown>;
const asList = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);

function rawTrafficSplit(object: Json): RawSplit {
  const backends = asList((object.spec as Json | undefined)?.backends);
  const weight = (name: string) => backends.find((backend) => backend.service === name)?.weight;
  return { stable: weight("web-stable"), canary: weight("web-canary"), backends: backends.length };
}

function rawHttpRoute(object: Json): RawSplit {
  const rules = asList((object.spec as Json | undefined)?.rules);
  const refs = asList(rules[0]?.backendRefs);
  const weight = (name: string) => refs.find((ref) => ref.name === name)?.weight;
  return { stable: weight("web-stable"), canary: weight("web-canary"), backends: refs.length };
}

async function kubectl(args: string[]): Promise<string> {
  const result = await env.cp.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A namespace with the Deployment `web` the route objects are owned by; resolves to the route's target. */
async function prepareNamespace(namespace: string): Promise<RouteTarget> {
  await kubectl(["create", "namespace", namespace]);
  await kubectl([
    "create",
    "deployment",
    "web",
    "-n",
    namespace,
    "--image=registry.invalid/web:1",
    "--port=8080",
  ]);
  const uid = (
    await kubectl(["get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.metadata.uid}"])
  ).trim();
  return {
    namespace,
    service: "web",
    stableService: "web-stable",
    canaryService: "web-canary",
    port: 80,
    owner: { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid, controller: true },
    labels: { "app.kubernetes.io/managed-by": "serin" },
  };
}

/** The tests every router must pass, each flavour in its own namespace. */
function routerBehaviour(flavour: Flavour): void {
  let target: RouteTarget;
  let objects: RecordingObjects;
  let router: Router;

  const readObject = async (): Promise<Json> =>
    JSON.parse(
      await kubectl(["get", flavour.resource, "web", "-n", flavour.namespace, "-o", "json"]),
    ) as Json;

  before(async () => {
    await installCrds(env.cp, flavour.crds);
    target = await prepareNamespace(flavour.namespace);
    objects = new RecordingObjects(env.cp.kubeConfig().makeApiClient(CustomObjectsApi));
    router = flavour.router(objects);
  });

  /** The object as stored now, read through the router (a GET). */
  const stored = () => router.read(target);
  const weightsNow = async () => {
    const object = await stored();
    return object === undefined ? undefined : router.readWeights(object, target);
  };

  test("a write with no object creates it at stable 100% with both backends, owned by the Deployment", async () => {
    objects.clear();
    await router.write(target, STABLE_ONLY, {}, undefined);
    assert.deepEqual(objects.calls, ["create"]);
    const object = await readObject();
    assert.deepEqual(flavour.raw(object), { stable: 10_000, canary: 0, backends: 2 });
    const metadata = object.metadata as Json;
    assert.deepEqual(asList(metadata.ownerReferences)[0]?.uid, target.owner.uid);
    assert.equal((metadata.labels as Json)["app.kubernetes.io/managed-by"], "serin");
    assert.deepEqual(await weightsNow(), STABLE_ONLY);
  });

  test("a write of 0.1% sends canary 10 and stable 9990 as integers, in one replace", async () => {
    const existing = await stored();
    objects.clear();
    await router.write(target, canaryWeights(10), {}, existing);
    assert.deepEqual(objects.calls, ["replace"]);
    assert.deepEqual(flavour.raw(await readObject()), { stable: 9990, canary: 10, backends: 2 });
    assert.deepEqual(await weightsNow(), { stable: 9990, canary: 10 });
  });

  test("a write of what is in force sends nothing and answers the object it was given", async () => {
    const existing = await stored();
    objects.clear();
    assert.equal(await router.write(target, canaryWeights(10), {}, existing), existing);
    assert.deepEqual(objects.calls, []);
  });

  test("annotations go on with the weights and a null takes one off", async () => {
    const message = "serin.dev/message";
    const on = await router.write(target, canaryWeights(10), { [message]: "step 1 of 2" }, await stored());
    assert.equal(((on as Json).metadata as Json).annotations?.[message as never], "step 1 of 2");
    await router.write(target, canaryWeights(10), { [message]: null }, on);
    const annotations = ((await readObject()).metadata as Json).annotations as Json | undefined;
    assert.equal(annotations?.[message], undefined);
  });

  test("a write of 0 keeps the canary backend, at weight 0", async () => {
    await router.write(target, STABLE_ONLY, {}, await stored());
    assert.deepEqual(flavour.raw(await readObject()), { stable: 10_000, canary: 0, backends: 2 });
  });

  test("a change by someone else since the read answers 409; written again from a fresh read, it is kept", async () => {
    const existing = await stored();
    objects.clear();
    objects.beforeReplace = async () => {
      await kubectl(["label", flavour.resource, "web", "-n", flavour.namespace, "reviewed-by=someone-else"]);
    };
    await assert.rejects(router.write(target, canaryWeights(2500), {}, existing), (error: unknown) => {
      assert.equal(apiErrorCode(error), 409);
      return true;
    });
    await router.write(target, canaryWeights(2500), {}, await stored());
    assert.deepEqual(objects.calls, ["replace", "replace failed with 409", "get", "replace"]);
    const object = await readObject();
    assert.equal(((object.metadata as Json).labels as Json)["reviewed-by"], "someone-else");
    assert.deepEqual(flavour.raw(object), { stable: 7500, canary: 2500, backends: 2 });
  });

  test("a backend someone else dropped is put back by the write that follows", async () => {
    // The other writer drops the canary backend altogether while serin is about to abort.
    const object = await readObject();
    const raw = JSON.stringify(object).replace(/web-canary/g, "web-gone");
    await env.cp.kubectl(["replace", "-f", "-"], { input: raw });
    await router.write(target, STABLE_ONLY, {}, await stored());
    assert.deepEqual(flavour.raw(await readObject()), { stable: 10_000, canary: 0, backends: 2 });
  });

  test("finalize deletes the object and is quiet when it is already gone", async () => {
    await router.finalize(target);
    const gone = await env.cp.kubectl(["get", flavour.resource, "web", "-n", flavour.namespace]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound/);
    await router.finalize(target);
    assert.equal(await stored(), undefined);
  });
}

const smiRouter = (version: "v1alpha1" | "v1alpha2" | "v1alpha4") => (objects: CustomObjects) =>
  new SmiRouter(objects, version);

test("with no traffic API installed, discovery says what it looked for", async () => {
  await assert.rejects(
    createRouter(env.cp.kubeConfig(), { kind: "auto" }),
    /serves no traffic API.*split\.smi-spec\.io\/v1alpha4.*gateway\.networking\.k8s\.io\/v1.*policy\.linkerd\.io/,
  );
});

test("a configured API the cluster does not serve fails on the first call, saying so", async () => {
  const router = await createRouter(env.cp.kubeConfig(), { kind: "smi", version: "v1alpha4" });
  const target = await prepareNamespace("not-served");
  await assert.rejects(
    router.read(target),
    /read TrafficSplit split\.smi-spec\.io\/v1alpha4 not-served\/web failed \(HTTP 404\): 404 page not found; is TrafficSplit split\.smi-spec\.io\/v1alpha4 served/,
  );
  await assert.rejects(router.write(target, STABLE_ONLY, {}, undefined), /create TrafficSplit .*HTTP 404/);
  await router.finalize(target);
});

describe("Linkerd's HTTPRoute, policy.linkerd.io/v1beta3", () => {
  routerBehaviour({
    crds: ["httproute-linkerd-policy"],
    namespace: "route-linkerd",
    resource: "httproutes.v1beta3.policy.linkerd.io",
    router: (objects) => new HttpRouteRouter(objects, httpRouteApiFor("policy.linkerd.io")),
    raw: rawHttpRoute,
  });

  test("is what discovery picks when it is the only route API served", async () => {
    assert.equal(
      (await createRouter(env.cp.kubeConfig(), { kind: "auto" })).api,
      "HTTPRoute policy.linkerd.io/v1beta3",
    );
  });

  test("the route attaches to the apex Service with a GAMMA parentRef", async () => {
    const router = await createRouter(env.cp.kubeConfig(), { kind: "httproute", group: "policy.linkerd.io" });
    const target = await prepareNamespace("route-linkerd-parent");
    await router.write(target, STABLE_ONLY, {}, undefined);
    const object = JSON.parse(
      await kubectl([
        "get",
        "httproutes.v1beta3.policy.linkerd.io",
        "web",
        "-n",
        target.namespace,
        "-o",
        "json",
      ]),
    ) as Json;
    assert.deepEqual((object.spec as Json).parentRefs, [
      { group: "core", kind: "Service", name: "web", port: 80 },
    ]);
  });
});

describe("Gateway API's HTTPRoute, gateway.networking.k8s.io/v1", () => {
  routerBehaviour({
    crds: ["httproute-gateway"],
    namespace: "route-gateway",
    resource: "httproutes.v1.gateway.networking.k8s.io",
    router: (objects) => new HttpRouteRouter(objects, httpRouteApiFor("gateway.networking.k8s.io")),
    raw: rawHttpRoute,
  });

  test("is preferred by discovery to Linkerd's when there is no TrafficSplit", async () => {
    const kc = env.cp.kubeConfig();
    assert.equal((await createRouter(kc, { kind: "auto" })).api, "HTTPRoute gateway.networking.k8s.io/v1");
    assert.equal(
      (await createRouter(kc, { kind: "httproute" })).api,
      "HTTPRoute gateway.networking.k8s.io/v1",
    );
    await assert.rejects(createRouter(kc, { kind: "smi" }), /looked for TrafficSplit/);
  });

  test("the route's parentRef names the apex Service's group as the empty string, as stored", async () => {
    const router = await createRouter(env.cp.kubeConfig(), {
      kind: "httproute",
      group: "gateway.networking.k8s.io",
    });
    const target = await prepareNamespace("route-gateway-parent");
    await router.write(target, STABLE_ONLY, {}, undefined);
    const object = JSON.parse(
      await kubectl([
        "get",
        "httproutes.v1.gateway.networking.k8s.io",
        "web",
        "-n",
        target.namespace,
        "-o",
        "json",
      ]),
    ) as Json;
    // "core" would be stored as written and read by Gateway API implementations as a group of that name.
    assert.deepEqual((object.spec as Json).parentRefs, [
      { group: "", kind: "Service", name: "web", port: 80 },
    ]);
  });
});

describe("TrafficSplit as linkerd-smi installs it: newest served is v1alpha2", () => {
  routerBehaviour({
    crds: ["trafficsplit-linkerd-smi"],
    namespace: "split-linkerd-smi",
    resource: "trafficsplits.v1alpha2.split.smi-spec.io",
    router: smiRouter("v1alpha2"),
    raw: rawTrafficSplit,
  });

  test("is what discovery picks, ahead of any HTTPRoute", async () => {
    assert.equal(
      (await createRouter(env.cp.kubeConfig(), { kind: "auto" })).api,
      "TrafficSplit split.smi-spec.io/v1alpha2",
    );
  });
});

describe("TrafficSplit forced to v1alpha1 on linkerd-smi, its storage version", () => {
  const namespace = "split-v1alpha1";
  const resource = "trafficsplits.v1alpha1.split.smi-spec.io";
  routerBehaviour({
    crds: ["trafficsplit-linkerd-smi"],
    namespace,
    resource,
    router: smiRouter("v1alpha1"),
    raw: rawTrafficSplit,
  });

  test('a split someone else set to "500m"/"500m" reads as 5000/5000, in v1alpha1 and v1alpha2', async () => {
    const kc = env.cp.kubeConfig();
    const router = await createRouter(kc, { kind: "smi", version: "v1alpha1" });
    assert.equal(router.api, "TrafficSplit split.smi-spec.io/v1alpha1");
    const target = await prepareNamespace(`${namespace}-quantity`);
    await router.write(target, STABLE_ONLY, {}, undefined);
    const patch = {
      spec: {
        backends: [
          { service: "web-canary", weight: "500m" },
          { service: "web-stable", weight: "500m" },
        ],
      },
    };
    await kubectl([
      "patch",
      resource,
      "web",
      "-n",
      target.namespace,
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
    const edited = JSON.parse(
      await kubectl(["get", resource, "web", "-n", target.namespace, "-o", "json"]),
    ) as Json;
    assert.deepEqual(rawTrafficSplit(edited), { stable: "500m", canary: "500m", backends: 2 });

    const weightsOf = async (reader: Router) => reader.readWeights(await reader.read(target), target);
    assert.deepEqual(await weightsOf(router), { stable: 5000, canary: 5000 });
    const v1alpha2 = new SmiRouter(kc.makeApiClient(CustomObjectsApi), "v1alpha2");
    assert.deepEqual(await weightsOf(v1alpha2), { stable: 5000, canary: 5000 });

    // Written back as plain integers, which the stricter v1alpha2 schema accepts too.
    await router.write(target, canaryWeights(10), {}, await router.read(target));
    const written = JSON.parse(
      await kubectl(["get", resource, "web", "-n", target.namespace, "-o", "json"]),
    ) as Json;
    assert.deepEqual(rawTrafficSplit(written), { stable: 9990, canary: 10, backends: 2 });
  });
});

describe("TrafficSplit as upstream SMI defines it: newest served is v1alpha4", () => {
  const namespace = "split-upstream";
  routerBehaviour({
    crds: ["trafficsplit-smi-upstream"],
    namespace,
    resource: "trafficsplits.v1alpha4.split.smi-spec.io",
    router: smiRouter("v1alpha4"),
    raw: rawTrafficSplit,
  });

  test("is what discovery picks", async () => {
    const kc = env.cp.kubeConfig();
    assert.equal((await createRouter(kc, { kind: "auto" })).api, "TrafficSplit split.smi-spec.io/v1alpha4");
    assert.equal((await createRouter(kc, { kind: "smi" })).api, "TrafficSplit split.smi-spec.io/v1alpha4");
  });

  test("a quantity written through v1alpha1 is read through v1alpha4 and rewritten as integers", async () => {
    const kc = env.cp.kubeConfig();
    const router = await createRouter(kc, { kind: "auto" });
    const target = await prepareNamespace(`${namespace}-quantity`);
    await router.write(target, STABLE_ONLY, {}, undefined);
    const patch = {
      spec: {
        backends: [
          { service: "web-stable", weight: "1" },
          { service: "web-canary", weight: "3" },
        ],
      },
    };
    await kubectl([
      "patch",
      "trafficsplits.v1alpha1.split.smi-spec.io",
      "web",
      "-n",
      target.namespace,
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
    const existing = await router.read(target);
    const weights = router.readWeights(existing, target);
    assert.deepEqual(weights, { stable: 2500, canary: 7500 });
    // A repair keeps the weights in force and writes them back as integers.
    await router.write(target, weights, {}, existing);
    const object = JSON.parse(
      await kubectl([
        "get",
        "trafficsplits.v1alpha4.split.smi-spec.io",
        "web",
        "-n",
        target.namespace,
        "-o",
        "json",
      ]),
    ) as Json;
    assert.deepEqual(rawTrafficSplit(object), { stable: 2500, canary: 7500, backends: 2 });
  });
});
