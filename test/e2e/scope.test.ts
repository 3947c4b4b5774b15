// What serin watches: labelled Deployments, its own Services and splits, and the Services of the
// namespaces that have an enabled Deployment. Another team's Services and splits elsewhere are never
// listed or watched, so serin's caches (and memory) do not grow with the rest of the cluster.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { readListsAndWatches } from "../harness/audit.js";
import { withControlPlane } from "../harness/index.js";
import { Journey, startCanaryWatcher } from "./journey.js";

const SERIN = "system:serviceaccount:serin-system:serin";
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"], auditLog: { readsOf: [SERIN] } });
const route = { kind: "trafficsplit", version: "v1alpha4" } as const;
const OWNED = /[?&]labelSelector=serin\.dev%2Fdeployment(&|$)/;

describe("what serin watches", () => {
  before(
    async () => {
      // A namespace of someone else's Services and a split of theirs, there before serin starts.
      assert.equal((await env.cp.kubectl(["create", "namespace", "bystander"])).code, 0);
      const services = Array.from({ length: 20 }, (_, i) => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `db-${i}`, namespace: "bystander" },
        spec: { selector: { app: `db-${i}` }, ports: [{ port: 5432 }] },
      }));
      const split = {
        apiVersion: "split.smi-spec.io/v1alpha4",
        kind: "TrafficSplit",
        metadata: { name: "db-0", namespace: "bystander" },
        spec: { service: "db-0", backends: [{ service: "db-1", weight: 100 }] },
      };
      const applied = await env.cp.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify({ apiVersion: "v1", kind: "List", items: [...services, split] }),
      });
      assert.equal(applied.code, 0, applied.stderr);
      await startCanaryWatcher(env.cp);
    },
    { timeout: 60_000 },
  );

  test("a namespace's first canary after serin started finds its Service; nothing of other namespaces is listed or watched", async () => {
    const journey = new Journey(env.cp, "scope", route);
    const annotations = { "serin.dev/steps": "10,50", "serin.dev/step-interval": "1h" };
    await journey.create({ annotations });
    await journey.ship("registry.example/web:2.0.0", { annotations });
    await journey.waitForCanaryWeight(1_000);

    const log = env.cp.auditLogFile;
    assert.ok(log, "the cluster keeps an audit log");
    const requests = await readListsAndWatches(log, SERIN);
    const of = (resource: string) =>
      requests.filter((request) => new URL(request.uri, "https://x").pathname.endsWith(`/${resource}`));
    const services = of("services");
    const splits = of("trafficsplits");
    const shown = (list: { verb: string; uri: string }[]) => list.map((r) => `${r.verb} ${r.uri}`).join("\n");
    assert.ok(services.length > 0 && splits.length > 0, `serin lists and watches:\n${shown(requests)}`);
    for (const request of services) {
      assert.ok(
        OWNED.test(request.uri) || request.uri.startsWith("/api/v1/namespaces/scope/services"),
        `a Services list or watch beyond serin's own and the canary's namespace: ${request.verb} ${request.uri}`,
      );
    }
    for (const request of splits) {
      assert.match(request.uri, OWNED, `a TrafficSplit list or watch beyond serin's own: ${request.verb}`);
    }
    assert.ok(
      services.some((request) => request.uri.startsWith("/api/v1/namespaces/scope/services")),
      `the apex Services of the canary's namespace are watched:\n${shown(services)}`,
    );
    assert.ok(!requests.some((request) => request.uri.includes("/namespaces/bystander/")));
  });
});
