import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import jsonPatch from "fast-json-patch";
import { diffShared } from "./json-diff.js";

const { applyPatch, compare } = jsonPatch;

test("applying the diff to the original always gives the mutated object", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (before, after) => {
      const wrappedBefore = { root: before, kept: { a: [1, 2] } };
      const wrappedAfter = { root: after, kept: wrappedBefore.kept };
      const patched = applyPatch(
        structuredClone(wrappedBefore),
        diffShared(wrappedBefore, wrappedAfter),
      ).newDocument;
      assert.deepEqual(patched, JSON.parse(JSON.stringify(wrappedAfter)));
    }),
  );
});

test("shared subtrees produce no operations; changed leaves the same ones compare would", () => {
  const shared = { containers: [{ name: "app", image: "web:1" }] };
  const before = { metadata: { annotations: { "serin.dev/phase": "Idle" } }, spec: shared };
  const after = { metadata: { annotations: { "serin.dev/phase": "Pending", "a/b": "x" } }, spec: shared };
  assert.deepEqual(diffShared(before, after), compare(before, after));
  assert.deepEqual(diffShared(before, after), [
    { op: "replace", path: "/metadata/annotations/serin.dev~1phase", value: "Pending" },
    { op: "add", path: "/metadata/annotations/a~1b", value: "x" },
  ]);
});
