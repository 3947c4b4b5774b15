import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalJson, sameRevision, templateRevision, withoutTrackLabel } from "./revision.js";

const template = {
  metadata: { labels: { app: "web", "serin.dev/track": "stable" } },
  spec: { containers: [{ name: "app", image: "web:1" }] },
};

test("the revision is the first 10 hex digits of sha256 over sorted-key JSON without the track label", () => {
  const canonical =
    '{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"web:1","name":"app"}]}}';
  const expected = createHash("sha256").update(canonical).digest("hex").slice(0, 10);
  assert.equal(canonicalJson(withoutTrackLabel(template)), canonical);
  assert.equal(templateRevision(template), expected);
  assert.match(templateRevision(template), /^[0-9a-f]{10}$/);
});

test("the track label does not change the revision, any other label does", () => {
  const canary = { ...template, metadata: { labels: { app: "web", "serin.dev/track": "canary" } } };
  const untracked = { ...template, metadata: { labels: { app: "web" } } };
  const relabelled = { ...template, metadata: { labels: { app: "web", tier: "front" } } };
  assert.equal(templateRevision(canary), templateRevision(template));
  assert.equal(templateRevision(untracked), templateRevision(template));
  assert.notEqual(templateRevision(relabelled), templateRevision(template));
});

test("removing the label leaves the caller's template as it was", () => {
  const copy = structuredClone(template);
  withoutTrackLabel(copy);
  assert.deepEqual(copy, template);
});

test("key order never changes the revision; array order does", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
      const reversed = Object.fromEntries(Object.entries(object).reverse());
      assert.equal(canonicalJson(reversed), canonicalJson(object));
      assert.deepEqual(JSON.parse(canonicalJson(object)), JSON.parse(JSON.stringify(object)));
    }),
  );
  assert.notEqual(templateRevision({ a: [1, 2] }), templateRevision({ a: [2, 1] }));
});

test("two templates have the same revision exactly when their hashes are equal", () => {
  const labelled = (labels: Record<string, string>) => ({ metadata: { labels }, spec: { replicas: 1 } });
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
      assert.equal(sameRevision(a, b), templateRevision(a) === templateRevision(b));
      assert.ok(sameRevision(a, JSON.parse(JSON.stringify(a))));
    }),
  );
  assert.ok(sameRevision(labelled({ app: "x", "serin.dev/track": "stable" }), labelled({ app: "x" })));
  assert.ok(!sameRevision(labelled({ app: "x" }), labelled({ app: "y" })));
  assert.ok(sameRevision({ a: 1, b: 2 }, { b: 2, a: 1 }));
});

test("a label named like an Object.prototype member still changes the revision", () => {
  const template = (labels: Record<string, string>) => ({ metadata: { labels } });
  assert.ok(!sameRevision(template({ toString: "x" }), template({})));
  assert.ok(!sameRevision(template({}), template({ constructor: "x" })));
});
