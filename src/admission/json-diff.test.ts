import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import jsonPatch from "fast-json-patch";
import { diffShared } from "./json-diff.js";

const { applyPatch, compare } = jsonPatch;

test("applying the diff to the original always gives the mutated object, whatever the keys", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (rawBefore, rawAfter) => {
      // As they come over the wire: JSON has no -0.
      const [before, after] = [rawBefore, rawAfter].map(
        (value) => JSON.parse(JSON.stringify(value)) as unknown,
      );
      const wrappedBefore = { root: before, kept: { a: [1, 2] } };
      const wrappedAfter = { root: after, kept: wrappedBefore.kept };
      // A JavaScript patcher cannot add a "__proto__" key (assignment sets the prototype instead); the
      // API server, which applies the patch, can. Such keys are checked on the operations below.
      fc.pre(!JSON.stringify([before, after]).includes('"__proto__"'));
      const patch = diffShared(wrappedBefore, wrappedAfter);
      const patched = applyPatch(structuredClone(wrappedBefore), patch).newDocument;
      assert.deepEqual(patched, wrappedAfter);
    }),
    { numRuns: 2_000 },
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

test("keys named like Object.prototype members are keys like any other", () => {
  assert.deepEqual(diffShared({ valueOf: "" }, {}), [{ op: "remove", path: "/valueOf" }]);
  assert.deepEqual(diffShared({}, JSON.parse('{"__proto__": 0}')), [
    { op: "add", path: "/__proto__", value: 0 },
  ]);
  assert.deepEqual(diffShared(JSON.parse('{"__proto__": []}'), {}), [{ op: "remove", path: "/__proto__" }]);
  assert.deepEqual(diffShared({}, { constructor: "x" }), [{ op: "add", path: "/constructor", value: "x" }]);
});
