// What only the real controllers show: garbage collection by ownerReference, the primary's rolling update
// at promotion, a PodDisruptionBudget and a HorizontalPodAutoscaler beside a canary, and kubectl's own
// rollout commands on an enabled Deployment.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type V1Deployment, Watch } from "@kubernetes/client-node";
import { withControlPlane } from "../harness/index.js";
import { Journey, type SerinWatcher, startCanaryWatcher } from "./journey.js";

const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const V2 = "registry.example/web:2.0.0";
const quick = { "serin.dev/steps": "50", "serin.dev/step-interval": "1s" };
const held = { "serin.dev/step-interval": "1h" };
let watcher: SerinWatcher;

/** The canary track's ReplicaSets and pods still in the namespace, as `kubectl get -o name` lists them. */
async function canaryLeftovers(journey: Journey): Promise<string> {
  const result = await env.cp.kubectl([
    "get",
    "replicasets,pods",
    "-n",
    journey.namespace,
    "-l",
    "serin.dev/track=canary",
    "-o",
    "name",
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

async function waitUntilCollected(journey: Journey): Promise<void> {
  await journey.waitFor(
    async () => (await canaryLeftovers(journey)) === "",
    "the canary's ReplicaSet and pods to be garbage-collected",
    60_000,
  );
}

/** Every status of the Deployment `name` the apiserver reports until `stop()`, from a WATCH. */
function recordStatuses(journey: Journey, name: string) {
  const seen: V1Deployment[] = [];
  let request: { abort(): void } | undefined;
  const started = new Watch(env.cp.kubeConfig())
    .watch(
      `/apis/apps/v1/namespaces/${journey.namespace}/deployments`,
      { fieldSelector: `metadata.name=${name}` },
      (_type: string, object: V1Deployment) => seen.push(object),
      () => {},
    )
    .then((controller) => {
      request = controller;
    });
  return {
    started,
    stop(): V1Deployment[] {
      request?.abort();
      return seen;
    },
  };
}

async function kubectlIn(journey: Journey, args: string[]) {
  const result = await env.cp.kubectl([...args, "-n", journey.namespace]);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
  return result;
}

/** The annotations of the primary's ReplicaSet of Deployment revision `revision`. */
async function replicaSetAnnotations(journey: Journey, revision: string): Promise<Record<string, string>> {
  const result = await kubectlIn(journey, [
    "get",
    "replicasets",
    "-l",
    "serin.dev/track=stable",
    "-o",
    "json",
  ]);
  const items = (
    JSON.parse(result.stdout) as { items: { metadata: { annotations?: Record<string, string> } }[] }
  ).items;
  const match = items.find(
    (rs) => rs.metadata.annotations?.["deployment.kubernetes.io/revision"] === revision,
  );
  return match?.metadata.annotations ?? {};
}

async function podImages(journey: Journey, track: string): Promise<string[]> {
  const result = await kubectlIn(journey, [
    "get",
    "pods",
    "-l",
    `serin.dev/track=${track}`,
    "-o",
    "jsonpath={.items[*].spec.containers[0].image}",
  ]);
  return result.stdout.split(" ").filter(Boolean).sort();
}

describe("serin on the real controllers", () => {
  before(
    async () => {
      ({ watcher } = await startCanaryWatcher(env.cp));
    },
    { timeout: 60_000 },
  );

  test("promotion is a real rolling update of the primary, and the canary's pods are garbage-collected", async () => {
    const journey = new Journey(env.cp, "promoted", route);
    // 4 replicas: the default strategy (25% unavailable) lets at most one be unavailable.
    await journey.create({ annotations: quick, replicas: 4 });
    await kubectlIn(journey, ["rollout", "status", "deployment/web", "--timeout=60s"]);
    const statuses = recordStatuses(journey, "web");
    await statuses.started;
    await journey.ship(V2, { annotations: quick, replicas: 4 });
    await journey.waitForCanaryWeight(5_000);
    assert.deepEqual(await podImages(journey, "canary"), [V2, V2, V2, V2], "the canary runs v2 on real pods");
    await journey.waitForPhase("Succeeded", 60_000);
    const rolledOut = await kubectlIn(journey, ["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert.match(rolledOut.stdout, /successfully rolled out/);
    const seen = statuses.stop();

    const history = await kubectlIn(journey, ["rollout", "history", "deployment/web"]);
    assert.match(history.stdout, /^1\s/m, "revision 1 (v1) in the history");
    assert.match(history.stdout, /^2\s/m, "revision 2 (v2) in the history");
    const generations = seen.filter((d) => d.status?.observedGeneration === d.metadata?.generation);
    const leastAvailable = Math.min(...generations.map((d) => d.status?.availableReplicas ?? 0));
    assert.ok(seen.length > 0, "the watch saw the rollout");
    assert.ok(leastAvailable >= 3, `available pods never below 4 - 1 (least seen: ${leastAvailable})`);

    await waitUntilCollected(journey);
    await journey.waitFor(
      async () => (await podImages(journey, "stable")).join() === [V2, V2, V2, V2].join(),
      "the primary's pods to run v2 only",
      60_000,
    );
  });

  test("an abort sends traffic to stable and the canary's ReplicaSet and pods are garbage-collected", async () => {
    const journey = new Journey(env.cp, "aborted", route);
    await journey.create({ annotations: held });
    await journey.ship(V2, { annotations: held });
    await journey.waitForCanaryWeight(1_000);
    assert.notEqual(await canaryLeftovers(journey), "", "the canary runs real pods");
    await journey.annotate("serin.dev/action", "abort");
    await journey.waitForPhase("Aborted");
    assert.deepEqual(await journey.weights(), { stable: 10_000, canary: 0 });
    await waitUntilCollected(journey);
    assert.deepEqual(await podImages(journey, "stable"), [
      "registry.example/web:1.0.0",
      "registry.example/web:1.0.0",
    ]);
  });

  test("a PodDisruptionBudget and a HorizontalPodAutoscaler on the primary count the canary's pods too", async () => {
    const journey = new Journey(env.cp, "scaling", route);
    await journey.create({ annotations: held });
    await journey.ship(V2, { annotations: held });
    await journey.waitForCanaryWeight(1_000);
    await journey.apply(
      JSON.stringify({
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "web" },
        spec: { minAvailable: 1, selector: { matchLabels: { app: "web" } } },
      }),
    );
    await journey.apply(
      JSON.stringify({
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "web" },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
          minReplicas: 3,
          maxReplicas: 5,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
            },
          ],
        },
      }),
    );
    // The HPA raises the primary to its minimum through the scale subresource, which the webhook does not
    // see; serin keeps the canary at the primary's replicas, so the canary follows.
    await journey.waitFor(
      async () => (await journey.get())?.spec?.replicas === 3,
      "the HPA to scale web to 3",
      60_000,
    );
    await journey.waitFor(
      async () => (await journey.get("web-canary"))?.spec?.replicas === 3,
      "the canary to follow the primary's replicas",
      30_000,
    );
    // The primary's selector (app=web) matches the canary's pods as well: the disruption controller
    // counts the pods of both Deployments against the budget.
    await journey.waitFor(
      async () => {
        const pdb = await kubectlIn(journey, ["get", "pdb", "web", "-o", "json"]);
        const status = (
          JSON.parse(pdb.stdout) as { status?: { expectedPods?: number; currentHealthy?: number } }
        ).status;
        return status?.expectedPods === 6 && status.currentHealthy === 6;
      },
      "the budget to expect 3 primary + 3 canary pods",
      60_000,
    );
    // No metrics API runs here: the HPA enforces its minimum but cannot compute utilisation (its next
    // sync, up to 15 s later, says so). With one, it would average over the canary's pods as well.
    await journey.waitFor(
      async () => {
        const hpa = JSON.parse((await kubectlIn(journey, ["get", "hpa", "web", "-o", "json"])).stdout) as {
          status?: { conditions?: { type: string; status: string; reason: string }[] };
        };
        const active = hpa.status?.conditions?.find((condition) => condition.type === "ScalingActive");
        return active?.status === "False" && active.reason === "FailedGetResourceMetric";
      },
      "the HPA to report that it cannot get the CPU metric",
      45_000,
    );
    assert.equal((await journey.status())["serin.dev/phase"], "Progressing", "the canary goes on");
    assert.deepEqual(await journey.weights(), { stable: 9_000, canary: 1_000 });
  });

  test("kubectl rollout restart is a change of the template: canaried like any other, then rolled out", async () => {
    const journey = new Journey(env.cp, "restart", route);
    await journey.create({ annotations: quick });
    const restarted = await kubectlIn(journey, ["rollout", "restart", "deployment/web"]);
    assert.match(restarted.stderr, /Warning: serin: revision [0-9a-f]{10} held back for a canary/);
    await journey.waitForPhase("Succeeded", 60_000);
    const template = (await journey.get())?.spec?.template.metadata?.annotations ?? {};
    assert.ok(template["kubectl.kubernetes.io/restartedAt"], "the restart reached the primary's template");
    await kubectlIn(journey, ["rollout", "status", "deployment/web", "--timeout=60s"]);
  });

  test("kubectl rollout undo after a promotion: the previous template comes back through a canary", async () => {
    const journey = new Journey(env.cp, "undo", route);
    await journey.create({ annotations: quick });
    await journey.ship(V2, { annotations: quick });
    await journey.waitForPhase("Succeeded", 60_000);
    await kubectlIn(journey, ["rollout", "status", "deployment/web", "--timeout=60s"]);
    const promotedRevision = (await replicaSetAnnotations(journey, "1"))["serin.dev/pending-revision"];
    // kubectl's undo replaces the Deployment's annotations with those the Deployment controller copied
    // into the old ReplicaSet: serin's bookkeeping of that time (phase, state, pending revision) included.
    assert.ok(promotedRevision, "the Deployment controller copied serin's annotations into the ReplicaSet");
    const undone = await kubectlIn(journey, ["rollout", "undo", "deployment/web"]);
    const revision = /revision ([0-9a-f]{10}) held back/.exec(undone.stderr)?.[1];
    // The webhook sees a new template and writes its own pending revision over the copied one.
    assert.ok(revision);
    assert.notEqual(revision, promotedRevision);
    assert.match(undone.stderr, /Warning: serin: revision [0-9a-f]{10} held back for a canary/);
    await journey.waitFor(
      async () => {
        const canary = await journey.get("web-canary");
        const image = canary?.spec?.template.spec?.containers[0]?.image;
        return (
          image === "registry.example/web:1.0.0" &&
          canary?.metadata?.annotations?.["serin.dev/revision"] === revision
        );
      },
      "the canary to run v1 again, as the webhook's new revision",
      30_000,
    );
    await journey.waitForPhase("Succeeded", 60_000);
    assert.equal(await journey.image(), "registry.example/web:1.0.0");
  });

  test("with serin stopped, deleting the Deployment garbage-collects all serin made", async () => {
    const journey = new Journey(env.cp, "deleted", route);
    await journey.create({ annotations: held });
    await journey.ship(V2, { annotations: held });
    await journey.waitForCanaryWeight(1_000);
    await watcher.stop();
    await kubectlIn(journey, ["delete", "deployment", "web", "--wait=false"]);
    await journey.waitFor(
      async () => {
        const left = await kubectlIn(journey, [
          "get",
          "deployments,replicasets,pods,services,trafficsplits",
          "-o",
          "name",
        ]);
        // The apex Service is the user's own; everything else goes with the Deployment.
        return left.stdout.trim() === "service/web";
      },
      "the garbage collector to remove the canary, its pods, the track Services and the split",
      60_000,
    );
  });
});
