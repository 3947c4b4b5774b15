// The cost serin causes the cluster, measured by the apiserver's audit log: serin's own requests per step
// of a canary (at most 3), and the writes the controller manager makes because of them (none). Printed
// for the reader; BENCHMARKS.md keeps a run's figures.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { type AuditedRequest, countRequests, readAuditLog, WRITE_VERBS } from "../harness/audit.js";
import { withControlPlane } from "../harness/index.js";
import { Journey, startCanaryWatcher } from "./journey.js";

const SERIN = "system:serviceaccount:serin-system:serin";
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"], auditLog: { readsOf: [SERIN] } });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const isController = (user: string) => user.startsWith("system:serviceaccount:kube-system:");

describe("what a canary costs the cluster", () => {
  before(
    async () => {
      await startCanaryWatcher(env.cp);
    },
    { timeout: 60_000 },
  );

  test("serin's requests and the controller manager's writes per step, counted by the apiserver", async () => {
    const journey = new Journey(env.cp, "cost", route);
    const annotations = { "serin.dev/steps": "10,20,30,40,50", "serin.dev/step-interval": "2s" };
    await journey.create({ annotations });
    await journey.ship("registry.example/web:2.0.0", { annotations });
    // The window: from the second step (20%) to the last (50%), three steps taken, once the controller
    // manager has caught up with the one write per revision (the held-back template moving off the
    // Deployment bumps its generation once, before the first step).
    await journey.waitForCanaryWeight(1_000, 60_000);
    await journey.waitFor(async () => {
      const web = await journey.get();
      return web?.status?.observedGeneration === web?.metadata?.generation;
    }, "the controller manager to have observed the Deployment");
    // A step is its split write, then its label write and its Event: the window opens after the 20% step's
    // last write and closes after the 50% step's, so that it holds three whole steps.
    const stepDone = async (weight: number, label: string) => {
      await journey.waitForCanaryWeight(weight, 60_000);
      await journey.waitFor(
        async () => (await journey.status())["serin.dev/weight"] === label,
        `weight label ${label}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
    };
    await stepDone(2_000, "20");
    const from = Date.now();
    await stepDone(5_000, "50");
    const to = Date.now();
    const steps = 3;
    // The audit log is written as requests complete; give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const log = env.cp.auditLogFile;
    assert.ok(log, "the cluster keeps an audit log");
    const inWindow = (await readAuditLog(log)).filter(
      (request) => request.namespace === "cost" && request.at >= from && request.at <= to,
    );
    const serin = inWindow.filter((request) => request.user === SERIN);
    const controllers = inWindow.filter(
      (request) => isController(request.user) && WRITE_VERBS.has(request.verb),
    );
    const perStep = (requests: readonly AuditedRequest[]) => (requests.length / steps).toFixed(1);
    const table = [
      `requests per step of one canary (${steps} steps, ${((to - from) / 1000).toFixed(1)} s, Kubernetes ${env.cp.kubernetesVersion})`,
      `  serin, all requests:                    ${perStep(serin)}`,
      `  serin, writes:                          ${perStep(serin.filter((r) => WRITE_VERBS.has(r.verb)))}`,
      `  controller manager, writes:             ${perStep(controllers)}`,
      "  by user, verb and resource (whole window):",
      ...countRequests([...serin, ...controllers]).map(
        ([key, count]) => `    ${String(count).padStart(4)}  ${key}`,
      ),
    ].join("\n");
    process.stdout.write(`${table}\n`);

    const weightWrites = serin.filter((r) => WRITE_VERBS.has(r.verb) && r.resource === "trafficsplits");
    assert.ok(weightWrites.length >= steps, `one weight write per step at least:\n${table}`);
    // One weight-and-progress write of the split, one label write of the Deployment, one Event; every read
    // from the caches. Nothing serin writes sets the controller manager to work.
    assert.ok(serin.length / steps <= 3, `serin makes at most 3 requests per step:\n${table}`);
    // What serin's bookkeeping on the primary could set off: syncs of the primary (its status) and copies
    // into its ReplicaSets. The canary's own pods (an EndpointSlice, its status) are not bookkeeping.
    const bookkeeping = controllers.filter(
      (request) =>
        (/^deployments(\/|$)/.test(request.resource) && request.name === "web") ||
        (/^replicasets(\/|$)/.test(request.resource) && !request.name.startsWith("web-canary-")),
    );
    assert.equal(bookkeeping.length, 0, `the controller manager writes nothing because of serin:\n${table}`);

    // serin caches objects without their managedFields; its writes leave everyone's field ownership stored.
    const managers = (object?: { metadata?: { managedFields?: { manager?: string }[] } }) =>
      new Set((object?.metadata?.managedFields ?? []).map((entry) => entry.manager));
    // kubectl leaves managedFields out unless asked.
    const shown = await env.cp.kubectl([
      "get",
      "deployment",
      "web",
      "-n",
      "cost",
      "-o",
      "json",
      "--show-managed-fields",
    ]);
    assert.equal(shown.code, 0, shown.stderr);
    const web = managers(JSON.parse(shown.stdout));
    assert.ok(web.has("serin") && web.size >= 3, `the Deployment's managers: ${[...web].join(", ")}`);
    const split = managers((await journey.routeObject()) as Parameters<typeof managers>[0]);
    assert.ok(split.has("serin"), `the split's managers: ${[...split].join(", ")}`);
  });
});
