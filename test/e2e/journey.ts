import assert from "node:assert/strict";
import { ApiException, type CoreV1Event, CustomObjectsApi, type V1Deployment } from "@kubernetes/client-node";
import { readHttpRouteWeights } from "../../src/routers/httproute.js";
import type { Weights } from "../../src/routers/router.js";
import { readTrafficSplitWeights } from "../../src/routers/smi.js";
import { type AppOptions, deploymentManifest, serviceManifest } from "../fixtures/manifests.js";
import {
  type ControlPlane,
  registerWebhook,
  repoRoot,
  type SerinWatcher,
  startSerinWatcher,
  startSerinWebhook,
  waitFor,
} from "../harness/index.js";

/** Where a journey's route object lives, as the watcher will write it. */
export type RouteApi =
  | { kind: "trafficsplit"; version: string }
  | { kind: "httproute"; group: string; version: string };

/**
 * What every canary journey needs around the local cluster: the webhook registered, serin's RBAC from
 * the chart, and `serin watch` running as serin's service account.
 */
export async function startCanaryCluster(
  cp: ControlPlane,
  watchArgs: string[] = [],
  webhookArgs: string[] = [],
) {
  const webhook = await startSerinWebhook(cp, { args: webhookArgs });
  await registerWebhook(cp, { port: webhook.port, caBundle: webhook.caBundle });
  assert.equal((await cp.kubectl(["create", "namespace", "serin-system"])).code, 0);
  const rbac = await cp.helm(3, [
    "template",
    "serin",
    `${repoRoot}/charts/serin`,
    "-n",
    "serin-system",
    "--show-only",
    "templates/rbac.yaml",
  ]);
  assert.equal(rbac.code, 0, rbac.stderr);
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: rbac.stdout });
  assert.equal(applied.code, 0, applied.stderr);
  const kubeconfig = await cp.serviceAccountKubeconfig("serin-system", "serin");
  const startWatcher = async (args: string[] = [], name?: string) => {
    const watcher = await startSerinWatcher(cp, {
      kubeconfig,
      args: ["--lease-namespace", "serin-system", ...watchArgs, ...args],
      ...(name ? { name } : {}),
    });
    return watcher;
  };
  return { webhook, startWatcher };
}

/** `startCanaryCluster`, then one `serin watch` that has started: what most suites run against. */
export async function startCanaryWatcher(cp: ControlPlane, watchArgs: string[] = []) {
  const cluster = await startCanaryCluster(cp, watchArgs);
  const watcher = await cluster.startWatcher();
  await watcher.waitForLog("watcher started");
  return { ...cluster, watcher };
}

/** One service owner's namespace: apply, annotate, look at what serin did. */
export class Journey {
  private readonly objects: CustomObjectsApi;

  constructor(
    readonly cp: ControlPlane,
    readonly namespace: string,
    readonly route: RouteApi,
    readonly name = "web",
  ) {
    this.objects = cp.kubeConfig().makeApiClient(CustomObjectsApi);
  }

  async create(options: AppOptions = {}): Promise<void> {
    assert.equal((await this.cp.kubectl(["create", "namespace", this.namespace])).code, 0);
    await this.apply(serviceManifest(this.name));
    await this.apply(deploymentManifest({ name: this.name, ...options }));
    await this.waitForPhase("Idle");
  }

  async apply(manifest: string): Promise<{ stdout: string; stderr: string }> {
    const result = await this.cp.kubectl(["apply", "-n", this.namespace, "-f", "-"], { input: manifest });
    assert.equal(result.code, 0, result.stderr);
    return result;
  }

  /** `kubectl apply` of the Deployment with another image (and the same annotations). */
  ship(image: string, options: AppOptions = {}) {
    return this.apply(this.manifest(image, options));
  }

  /** The Deployment's manifest with `image`, as `ship` would apply it. */
  manifest(image: string, options: AppOptions = {}): string {
    return deploymentManifest({ name: this.name, image, ...options });
  }

  async annotate(key: string, value: string | null): Promise<void> {
    const args = ["annotate", "deployment", this.name, "-n", this.namespace, "--overwrite"];
    const result = await this.cp.kubectl([...args, value === null ? `${key}-` : `${key}=${value}`]);
    assert.equal(result.code, 0, result.stderr);
  }

  async get(name = this.name): Promise<V1Deployment | undefined> {
    const result = await this.cp.kubectl([
      "get",
      "deployment",
      name,
      "-n",
      this.namespace,
      "-o",
      "json",
      "--ignore-not-found",
    ]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim() ? (JSON.parse(result.stdout) as V1Deployment) : undefined;
  }

  async annotations(): Promise<Record<string, string>> {
    return (await this.get())?.metadata?.annotations ?? {};
  }

  /**
   * What serin says of the canary, where it keeps it: the phase and weight labels of the Deployment, the
   * pending revision on it, and the state and message annotations of the traffic split.
   */
  async status(): Promise<Record<string, string>> {
    const deployment = await this.get();
    const route = await this.routeObject();
    const labels = deployment?.metadata?.labels ?? {};
    const pick = (from: Record<string, string>, keys: string[]) =>
      Object.fromEntries(
        keys.filter((key) => from[key] !== undefined).map((key) => [key, from[key] as string]),
      );
    return {
      ...(deployment?.metadata?.annotations ?? {}),
      ...pick(labels, ["serin.dev/phase", "serin.dev/weight"]),
      ...pick(route?.metadata?.annotations ?? {}, ["serin.dev/state", "serin.dev/message"]),
    };
  }

  async image(name = this.name): Promise<string | undefined> {
    return (await this.get(name))?.spec?.template.spec?.containers[0]?.image;
  }

  async waitForPhase(phase: string, timeoutMs = 30_000): Promise<Record<string, string>> {
    return waitFor(
      async () => {
        const status = await this.status();
        if (status["serin.dev/phase"] === phase) return status;
        throw new Error(`phase ${status["serin.dev/phase"]}: ${status["serin.dev/message"] ?? ""}`);
      },
      { timeoutMs, intervalMs: 100, what: `${this.namespace}/${this.name} to reach phase ${phase}` },
    );
  }

  /** The route object as stored, or undefined when there is none. */
  async routeObject(): Promise<{ metadata?: { annotations?: Record<string, string> } } | undefined> {
    const route = this.route;
    const group = route.kind === "trafficsplit" ? "split.smi-spec.io" : route.group;
    const plural = route.kind === "trafficsplit" ? "trafficsplits" : "httproutes";
    try {
      return (await this.objects.getNamespacedCustomObject({
        group,
        version: route.version,
        namespace: this.namespace,
        plural,
        name: this.name,
      })) as { metadata?: { annotations?: Record<string, string> } };
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  /** The route object's weights as stored, or undefined when there is none. */
  async weights(): Promise<Weights | undefined> {
    const object = await this.routeObject();
    if (!object) return undefined;
    return this.route.kind === "trafficsplit"
      ? readTrafficSplitWeights(object)
      : readHttpRouteWeights(object);
  }

  async waitForCanaryWeight(canary: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        const weights = await this.weights();
        if (weights?.canary === canary) return true;
        throw new Error(`canary weight ${weights?.canary}`);
      },
      { timeoutMs, intervalMs: 50, what: `${this.namespace}/${this.name} canary weight ${canary}` },
    );
  }

  async waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => ((await condition()) ? true : undefined), { timeoutMs, intervalMs: 100, what });
  }

  /** Records every distinct canary weight the route object shows until `stop()`. */
  recordWeights(): { stop(): Promise<number[]> } {
    const seen: number[] = [];
    const look = async () => {
      const canary = (await this.weights())?.canary;
      if (canary !== undefined && seen[seen.length - 1] !== canary) seen.push(canary);
    };
    let running = true;
    const loop = (async () => {
      while (running) {
        await look();
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        // One last look: what the caller just waited for is in the record even if a poll missed it.
        await look();
        return seen;
      },
    };
  }

  async events(): Promise<CoreV1Event[]> {
    const result = await this.cp.kubectl([
      "get",
      "events",
      "-n",
      this.namespace,
      "--field-selector",
      `involvedObject.name=${this.name},involvedObject.kind=Deployment`,
      "-o",
      "json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { items: CoreV1Event[] }).items;
  }

  async exists(kind: string, name: string): Promise<boolean> {
    const result = await this.cp.kubectl([
      "get",
      kind,
      name,
      "-n",
      this.namespace,
      "--ignore-not-found",
      "-o",
      "name",
    ]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim() !== "";
  }
}

export type { SerinWatcher };
