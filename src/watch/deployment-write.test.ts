import assert from "node:assert/strict";
import { test } from "node:test";
import { deploymentWriteOps } from "./deployment-write.js";

test("a status write is guarded by the resourceVersion it was read at and escapes annotation keys", () => {
  const ops = deploymentWriteOps(
    {
      metadata: {
        resourceVersion: "77",
        annotations: { "serin.dev/action": "pause", "serin.dev/phase": "Progressing" },
      },
    },
    { "serin.dev/phase": "Paused", "serin.dev/action": null, "serin.dev/state": null },
  );
  assert.deepEqual(ops, [
    { op: "replace", path: "/metadata/resourceVersion", value: "77" },
    { op: "add", path: "/metadata/annotations/serin.dev~1phase", value: "Paused" },
    { op: "remove", path: "/metadata/annotations/serin.dev~1action" },
  ]);
});

test("a Deployment without annotations gets the map in one operation; promotion replaces the whole template", () => {
  const template = { metadata: { labels: { app: "web" } }, spec: { containers: [] } };
  const ops = deploymentWriteOps(
    { metadata: { resourceVersion: "5" } },
    { "serin.dev/phase": "Promoting" },
    template,
  );
  assert.deepEqual(ops, [
    { op: "replace", path: "/metadata/resourceVersion", value: "5" },
    { op: "add", path: "/metadata/annotations", value: { "serin.dev/phase": "Promoting" } },
    { op: "replace", path: "/spec/template", value: template },
  ]);
});
