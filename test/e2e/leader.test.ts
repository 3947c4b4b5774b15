import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { startHoldingWebhook, waitFor, withControlPlane } from "../harness/index.js";
import { Journey, type SerinWatcher, startCanaryCluster } from "./journey.js";

/** Two `serin watch --leader-elect` replicas: only the leader writes, and a dead leader is replaced. */
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
let replicas: SerinWatcher[] = [];
let startWatcher: Awaited<ReturnType<typeof startCanaryCluster>>["startWatcher"];

const writes = (watcher: SerinWatcher) => watcher.logs().filter((entry) => entry.msg === "reconciled").length;
const leads = (watcher: SerinWatcher) => watcher.logs().some((entry) => entry.msg === "became leader");

/** Who holds the Lease `name` now ("<hostname>-<pid>"), or undefined. */
async function holderOf(name: string): Promise<string | undefined> {
  const lease = await env.cp.kubectl([
    "get",
    "lease",
    name,
    "-n",
    "serin-system",
    "-o",
    "json",
    "--ignore-not-found",
  ]);
  assert.equal(lease.code, 0, lease.stderr);
  return lease.stdout.trim() ? (JSON.parse(lease.stdout).spec.holderIdentity ?? undefined) : undefined;
}

/** The replica of `pool` that holds the Lease now, read from the Lease itself (not from old logs). */
function leaderOf(pool: readonly SerinWatcher[], name: string): Promise<SerinWatcher> {
  return waitFor(
    async () => {
      const holder = await holderOf(name);
      return pool.find((replica) => holder?.endsWith(`-${replica.pid}`) && !replica.exited());
    },
    { timeoutMs: 30_000, what: `a replica holding the Lease ${name}` },
  );
}

describe("leader election on a Lease", () => {
  before(
    async () => {
      const cluster = await startCanaryCluster(env.cp);
      startWatcher = cluster.startWatcher;
      const args = ["--leader-elect", "--lease-duration", "6s"];
      replicas = [
        await cluster.startWatcher(args, "replica-a"),
        await cluster.startWatcher(args, "replica-b"),
      ];
    },
    { timeout: 60_000 },
  );

  test("one replica leads and only it writes; killing it hands the canary over to the other", async () => {
    const leader = await leaderOf(replicas, "serin-watcher");
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

  test("replicas killed and stopped mid-canary, again and again: no step taken twice, no weight going back", {
    timeout: 180_000,
  }, async () => {
    // Two replicas with a 2 s Lease; every few seconds the leader is SIGKILLed (mid-write, as on a node
    // failure) or SIGTERMed (a rolling update of serin), and a fresh replica takes its place.
    for (const replica of replicas) await replica.stop();
    const args = ["--leader-elect", "--lease-duration", "2s", "--lease-name", "serin-churn"];
    let generation = 0;
    const start = () => startWatcher(args, `churn-${generation++}`);
    let pool = [await start(), await start()];

    const journey = new Journey(env.cp, "churn", route);
    const steps = ["5", "10", "15", "20", "25", "30", "35", "40", "45", "50"];
    const annotations = { "serin.dev/steps": steps.join(","), "serin.dev/step-interval": "2s" };
    await journey.create({ annotations });
    const recorder = journey.recordWeights();
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForCanaryWeight(500, 60_000);

    for (let round = 0; round < 6; round++) {
      const leader = await leaderOf(pool, "serin-churn");
      await (round % 2 === 0 ? leader.kill() : leader.stop());
      pool = [...pool.filter((replica) => replica !== leader), await start()];
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    }
    await journey.waitForPhase("Succeeded", 120_000);
    const seen = await recorder.stop();
    const expected = [0, ...steps.map((step) => Number(step) * 100), 10_000, 0];
    assert.deepEqual(seen, expected, `weights in order, none twice, none back: ${seen.join(", ")}`);
    const shifted = (await journey.events()).filter((event) => event.reason === "WeightShifted");
    const perStep = new Map<string, number>();
    for (const event of shifted)
      perStep.set(event.message ?? "", (perStep.get(event.message ?? "") ?? 0) + (event.count ?? 1));
    for (const [message, count] of perStep) assert.equal(count, 1, `taken once: ${message} (${count} times)`);
    assert.equal(perStep.size, steps.length, "every step taken");
    for (const replica of pool) await replica.stop();
  });
  test("a leader frozen past its Lease: the other takes over; thawed, the old one writes nothing and steps aside", {
    timeout: 120_000,
  }, async () => {
    // SIGSTOP keeps the process and its connections but stops its clock-driven work, as a paused VM or
    // a long stop-the-world pause would. When it thaws, its timers and buffered watch events run before
    // its next Lease renewal can tell it that it lost: only the check before each write stops it.
    const args = ["--leader-elect", "--lease-duration", "4s", "--lease-name", "serin-freeze"];
    const pool = [
      await startWatcher([...args, "--log-level", "debug"], "freeze-a"),
      await startWatcher([...args, "--log-level", "debug"], "freeze-b"),
    ];
    const journey = new Journey(env.cp, "freeze", route);
    const steps = ["10", "20", "30", "40", "50", "60", "70", "80"];
    const annotations = { "serin.dev/steps": steps.join(","), "serin.dev/step-interval": "2s" };
    await journey.create({ annotations });
    const recorder = journey.recordWeights();
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForCanaryWeight(2_000, 30_000);
    const frozen = await leaderOf(pool, "serin-freeze");
    const other = pool.find((replica) => replica !== frozen) as SerinWatcher;

    frozen.pause();
    await other.waitForLog("became leader", 20_000);
    // Two more steps under the new leader while the old one is frozen with a due step of its own.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const before = frozen.logs().length;
    frozen.resume();
    await waitFor(async () => (frozen.exited() ? true : undefined), {
      timeoutMs: 20_000,
      what: "the thawed replica to step aside",
    });
    const after = frozen.logs().slice(before);
    const performed = after.filter((entry) => entry.msg === "performing");
    assert.deepEqual(performed, [], "the thawed replica performed nothing");
    assert.ok(
      after.some((entry) => entry.msg === "lost leadership"),
      after.map((e) => e.msg).join("\n"),
    );

    await journey.waitForPhase("Succeeded", 60_000);
    const seen = await recorder.stop();
    const expected = [0, ...steps.map((step) => Number(step) * 100), 10_000, 0];
    assert.deepEqual(seen, expected, `weights in order, none twice, none back: ${seen.join(", ")}`);
    for (const replica of pool) await replica.stop();
  });
  test("SIGTERM while the leader's split write is in flight: the write lands, then the Lease is handed over", {
    timeout: 120_000,
  }, async () => {
    // A Lease long enough that only the shutdown can hand it over within the test's window.
    const args = ["--leader-elect", "--lease-duration", "15s", "--lease-name", "serin-sigterm"];
    const pool = [await startWatcher(args, "sigterm-a"), await startWatcher(args, "sigterm-b")];
    const journey = new Journey(env.cp, "sigterm", route);
    const steps = ["10", "20", "30", "40", "50"];
    const annotations = { "serin.dev/steps": steps.join(","), "serin.dev/step-interval": "2s" };
    await journey.create({ annotations });
    // The apiserver holds serin's next update of the split in admission, as a slow apiserver would.
    const holder = await startHoldingWebhook(env.cp, {
      name: "hold-splits",
      group: "split.smi-spec.io",
      resource: "trafficsplits",
      namespace: journey.namespace,
      operations: ["UPDATE"],
    });
    const recorder = journey.recordWeights();
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForCanaryWeight(1_000, 30_000);
    const held = holder.holdNext();
    const leader = await leaderOf(pool, "serin-sigterm");
    const other = pool.find((replica) => replica !== leader) as SerinWatcher;
    const leading = await holderOf("serin-sigterm");
    const request = await held;
    assert.equal(request.name, "web");

    const stopped = leader.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await holderOf("serin-sigterm"), leading, "the Lease is kept while a write is in flight");
    assert.equal(leads(other), false, "and nobody else writes meanwhile");
    const reconciledBefore = writes(leader);
    holder.release();
    await stopped;
    assert.ok(
      writes(leader) > reconciledBefore,
      `the write in flight finished and was logged:\n${leader
        .logs()
        .slice(-12)
        .map((entry) => JSON.stringify(entry))
        .join("\n")}`,
    );
    await other.waitForLog("became leader", 20_000);
    await journey.waitForPhase("Succeeded", 60_000);
    await holder.stop();
    const seen = await recorder.stop();
    const expected = [0, ...steps.map((step) => Number(step) * 100), 10_000, 0];
    assert.deepEqual(seen, expected, `weights in order, none twice, none back: ${seen.join(", ")}`);
    for (const replica of pool) await replica.stop();
  });
});
