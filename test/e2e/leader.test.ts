import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { waitFor, withControlPlane } from "../harness/index.js";
import { Journey, type SerinWatcher, startCanaryCluster } from "./journey.js";

/** Two `serin watch --leader-elect` replicas: only the leader writes, and a dead leader is replaced. */
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
let replicas: SerinWatcher[] = [];

const writes = (watcher: SerinWatcher) => watcher.logs().filter((entry) => entry.msg === "reconciled").length;
const leads = (watcher: SerinWatcher) => watcher.logs().some((entry) => entry.msg === "became leader");

describe("leader election on a Lease", () => {
  before(
    async () => {
      const cluster = await startCanaryCluster(env.cp);
      const args = ["--leader-elect", "--lease-duration", "3s"];
      replicas = [
        await cluster.startWatcher(args, "replica-a"),
        await cluster.startWatcher(args, "replica-b"),
      ];
    },
    { timeout: 60_000 },
  );

  test("one replica leads and only it writes; killing it hands the canary over to the other", async () => {
    const leader = await waitFor(async () => replicas.find(leads), {
      timeoutMs: 20_000,
      what: "one replica to become leader",
    });
    const follower = replicas.find((replica) => replica !== leader) as SerinWatcher;
    const lease = await env.cp.kubectl(["get", "lease", "serin-watcher", "-n", "serin-system", "-o", "json"]);
    assert.equal(lease.code, 0, lease.stderr);
    assert.match(JSON.parse(lease.stdout).spec.holderIdentity, /-\d+$/);

    const journey = new Journey(env.cp, "ha", route);
    const annotations = { "serin.dev/steps": "10,20,30,40,50", "serin.dev/step-interval": "1s" };
    await journey.create({ annotations });
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForCanaryWeight(2_000, 20_000);
    assert.ok(writes(leader) > 0, "the leader writes");
    assert.equal(writes(follower), 0, "the follower writes nothing");
    assert.equal(leads(follower), false);

    await leader.kill();
    await follower.waitForLog("became leader", 20_000);
    await journey.waitForPhase("Succeeded", 40_000);
    assert.ok(writes(follower) > 0, "the new leader carried the canary on");
    assert.equal(await journey.image(), "registry.example/web:2.0.0");
  });
});
