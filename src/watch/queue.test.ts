import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkQueue } from "./queue.js";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test("one reconcile at a time per key; an add during it runs once more afterwards", async () => {
  const log: string[] = [];
  let release: () => void = () => {};
  const queue = new WorkQueue(
    async (key) => {
      log.push(`start ${key}`);
      if (log.length === 1) await new Promise<void>((resolve) => (release = resolve));
      log.push(`end ${key}`);
      return undefined;
    },
    { workers: 4 },
  );
  queue.add("a");
  await tick();
  queue.add("a");
  queue.add("a");
  await tick();
  assert.deepEqual(log, ["start a"], "no second reconcile of the same key while one runs");
  release();
  await tick(5);
  await queue.idle();
  assert.deepEqual(
    log,
    ["start a", "end a", "start a", "end a"],
    "the adds made meanwhile collapse into one rerun",
  );
});

test("different keys run in parallel up to the worker count", async () => {
  let running = 0;
  let peak = 0;
  const queue = new WorkQueue(
    async () => {
      running += 1;
      peak = Math.max(peak, running);
      await tick(10);
      running -= 1;
      return undefined;
    },
    { workers: 3 },
  );
  for (const key of ["a", "b", "c", "d", "e", "f"]) queue.add(key);
  await tick(50);
  await queue.idle();
  assert.equal(peak, 3);
});

test("a failing key is retried with growing backoff and the error reported", async () => {
  const attempts: number[] = [];
  const reported: number[] = [];
  const queue = new WorkQueue(
    async () => {
      attempts.push(Date.now());
      if (attempts.length < 3) throw new Error("conflict");
      return undefined;
    },
    { workers: 1, baseBackoffMs: 10 },
    (_key, _error, retryInMs) => reported.push(retryInMs),
  );
  queue.add("a");
  await tick(100);
  assert.equal(attempts.length, 3);
  assert.deepEqual(reported, [10, 20]);
  await queue.drain();
});

test("a requested requeue comes back after its delay; an earlier add wins", async () => {
  const seen: string[] = [];
  const queue = new WorkQueue(
    async (key) => {
      seen.push(key);
      return seen.length === 1 ? { requeueAfterMs: 30 } : undefined;
    },
    { workers: 1 },
  );
  queue.add("a");
  await tick(5);
  assert.deepEqual(seen, ["a"]);
  await tick(50);
  assert.deepEqual(seen, ["a", "a"]);
  queue.addAfter("b", 1_000);
  queue.addAfter("b", 10);
  await tick(40);
  assert.deepEqual(seen, ["a", "a", "b"]);
  await queue.drain();
});

test("an event goes ahead of every waiting resync, and a resync of a key already waiting adds nothing", async () => {
  const seen: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const queue = new WorkQueue(
    async (key) => {
      seen.push(key);
      if (key === "busy") await gate;
      return undefined;
    },
    { workers: 1 },
  );
  queue.add("busy");
  for (const key of ["r1", "r2", "r3"]) queue.add(key, "resync");
  queue.add("r2", "resync");
  queue.add("abort-me");
  queue.add("r3");
  release();
  await queue.idle();
  assert.deepEqual(seen, ["busy", "abort-me", "r3", "r1", "r2"]);
});

test("a user's change goes ahead of waiting events and due polls; an event for a key in the user lane leaves it there", async () => {
  const seen: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const queue = new WorkQueue(
    async (key) => {
      seen.push(key);
      if (key.startsWith("block")) await gate;
      return undefined;
    },
    { workers: 1 },
  );
  // The one worker and the two that only users' changes may take, all busy.
  queue.add("block1");
  queue.add("block2", "user");
  queue.add("block3", "user");
  await tick();
  for (const key of ["poll1", "poll2", "poll3"]) queue.add(key);
  queue.add("r1", "resync");
  queue.add("abort-me", "user");
  queue.add("poll3", "user");
  queue.add("abort-me");
  release();
  await queue.idle();
  assert.deepEqual(seen, ["block1", "block2", "block3", "abort-me", "poll3", "poll1", "poll2", "r1"]);
});

test("drain takes no new work and waits for the reconciles in flight", async () => {
  let finished = false;
  const queue = new WorkQueue(
    async () => {
      await tick(30);
      finished = true;
      return undefined;
    },
    { workers: 1 },
  );
  queue.add("a");
  await tick(1);
  await queue.drain();
  assert.equal(finished, true, "drain resolved only after the reconcile ended");
  queue.add("b");
  assert.equal(queue.length, 0, "nothing is taken after drain");
});

test("a requeue asked for beyond a day is clamped instead of overflowing the timer", async () => {
  const seen: string[] = [];
  const queue = new WorkQueue(
    async (key) => {
      seen.push(key);
      return undefined;
    },
    { workers: 1 },
  );
  queue.addAfter("far", 10 ** 12);
  await tick(20);
  assert.deepEqual(seen, [], "a huge delay does not fire at once");
  await queue.drain();
});

test("a user's change starts at once even when every worker is busy", async () => {
  const started: string[] = [];
  let release: () => void = () => {};
  const slow = new Promise<void>((resolve) => {
    release = resolve;
  });
  const queue = new WorkQueue(
    async (key) => {
      started.push(key);
      if (key.startsWith("slow")) await slow;
      return undefined;
    },
    { workers: 2 },
  );
  for (const key of ["slow1", "slow2", "slow3"]) queue.add(key);
  queue.add("abort-me", "user");
  await tick();
  assert.deepEqual(started, ["slow1", "slow2", "abort-me"], "the abort does not wait; slow3 does");
  release();
  await queue.idle();
  assert.deepEqual(started, ["slow1", "slow2", "abort-me", "slow3"]);
});
