import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubernetesObject } from "@kubernetes/client-node";
import { caughtUp, ReadYourWrites } from "./read-your-writes.js";

const object = (resourceVersion: string, mark = ""): KubernetesObject => ({
  metadata: { name: "web", namespace: "shop", resourceVersion, labels: { mark } },
});

test("a write of ours reads back until the informer has caught up with it, then the informer wins", () => {
  let cached: KubernetesObject | undefined = object("10", "before");
  const reads = new ReadYourWrites({ get: () => cached });
  reads.remember(object("11", "ours"));
  assert.equal(reads.get("web", "shop")?.metadata?.labels?.mark, "ours", "the stale copy is not read");
  cached = object("11", "ours-from-watch");
  assert.equal(reads.get("web", "shop")?.metadata?.labels?.mark, "ours-from-watch");
  cached = object("12", "someone-else");
  assert.equal(reads.get("web", "shop")?.metadata?.labels?.mark, "someone-else");
  assert.equal(reads.pending, 0);
});

test("a later version from someone else also means the informer caught up", () => {
  let cached: KubernetesObject | undefined = object("10");
  const reads = new ReadYourWrites({ get: () => cached });
  reads.remember(object("11", "ours"));
  cached = object("15", "theirs");
  assert.equal(reads.get("web", "shop")?.metadata?.labels?.mark, "theirs");
});

test("a deleted object reads as gone until the informer drops it; a stuck entry expires", () => {
  let now = 0;
  const cached: KubernetesObject | undefined = object("10");
  const reads = new ReadYourWrites({ get: () => cached }, () => now);
  reads.forget("web", "shop");
  assert.equal(reads.get("web", "shop"), undefined);
  now = 31_000;
  assert.equal(
    reads.get("web", "shop")?.metadata?.resourceVersion,
    "10",
    "after 30 s the informer is trusted",
  );
});

test("resourceVersions compare as integers when they are, and only by equality otherwise", () => {
  assert.equal(caughtUp("100", "99"), true);
  assert.equal(caughtUp("99", "100"), false);
  assert.equal(caughtUp("abc", "abd"), false);
  assert.equal(caughtUp("abc", "abc"), true);
  assert.equal(caughtUp(undefined, "1"), false);
});
