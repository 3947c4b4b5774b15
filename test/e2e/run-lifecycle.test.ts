import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type TLSSocket } from "node:tls";
import { installCrds, type SerinWebhook, waitFor, withControlPlane } from "../harness/index.js";
import { applyChartAccess, logged, probe, startRunReplica, waitForLog } from "./serin-run.js";

/**
 * `serin run` as the chart runs it (webhook and watcher in one process, leader election), on the real
 * control plane: when it says it is ready, and how it stops.
 */
const env = withControlPlane();
let kubeconfig = "";
const replicas: SerinWebhook[] = [];

/** A replica with a short Lease, on a TrafficSplit API named outright (no discovery needed). */
const startReplica = () =>
  startRunReplica(env.cp, kubeconfig, ["--router", "smi/v1alpha4", "--lease-duration", "3s"]);

describe("serin run: readiness and shutdown", () => {
  before(async () => {
    kubeconfig = await applyChartAccess(env.cp);
  });

  test("not ready until the leader's caches have listed (the TrafficSplit CRD installed late); a standby is ready; alive throughout", {
    timeout: 90_000,
  }, async () => {
    const leader = await startReplica();
    replicas.push(leader);
    await waitForLog(leader, "became leader");
    await waitForLog(leader, "waiting for the caches to fill");
    const standby = await startReplica();
    replicas.push(standby);
    // The standby reads the Lease, so it would take over: ready, while the leader cannot list splits.
    await waitFor(async () => ((await probe(standby, "/readyz")) === 200 ? true : undefined), {
      timeoutMs: 20_000,
      what: "the standby to be ready",
    });
    assert.equal(logged(standby, "became leader"), false);
    for (let look = 0; look < 5; look++) {
      assert.equal(await probe(leader, "/readyz"), 503, "no split can be listed yet: not ready");
      assert.equal(await probe(leader, "/livez"), 200, "alive all the same");
      assert.equal(await probe(leader, "/healthz"), 200);
      await sleep(300);
    }
    assert.equal(logged(leader, "watcher started"), false, "no reconcile before the caches are filled");

    await installCrds(env.cp, ["trafficsplit-smi-upstream"]);
    await waitFor(async () => ((await probe(leader, "/readyz")) === 200 ? true : undefined), {
      timeoutMs: 40_000,
      what: "the leader to be ready once TrafficSplits can be listed",
    });
    assert.ok(logged(leader, "watcher started"));
  });

  test("SIGTERM: the review in flight is answered, new connections are refused, the Lease handed back, exit 0", {
    timeout: 60_000,
  }, async () => {
    const [leader, standby] = replicas as [SerinWebhook, SerinWebhook];
    assert.equal(await probe(leader, "/readyz"), 200);
    const body = JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: "held-over-sigterm",
        kind: { group: "apps", version: "v1", kind: "Deployment" },
        resource: { group: "apps", version: "v1", resource: "deployments" },
        namespace: "shop",
        name: "web",
        operation: "CREATE",
        userInfo: { username: "alice" },
        object: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: "shop", labels: { app: "web", "serin.dev/canary": "enabled" } },
          spec: {
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: { containers: [{ name: "app", image: "web:1" }] },
            },
          },
        },
      },
    });
    // A slow client: the headers and half the body now, the rest after SIGTERM.
    const held = await openTls(leader);
    const half = Math.floor(body.length / 2);
    held.socket.write(
      `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
    );
    await sleep(200);

    const ended = leader.terminate(20_000);
    await waitFor(async () => ((await refused(leader.port)) ? true : undefined), {
      timeoutMs: 5_000,
      what: "new connections to be refused after SIGTERM",
    });
    assert.equal(leader.exited(), undefined, "still running: the review in flight is not answered yet");

    held.socket.write(body.slice(half));
    const answer = await held.answer;
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /connection: close/i);
    const review = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as {
      response: { uid: string; allowed: boolean; patchType?: string };
    };
    assert.equal(review.response.uid, "held-over-sigterm");
    assert.equal(review.response.allowed, true);
    assert.equal(review.response.patchType, "JSONPatch", "the stable track label is added, as to any review");

    const exit = await ended;
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
    // Handed back rather than left to lapse: the standby takes over within a retry period or two.
    await waitForLog(standby, "became leader", 5_000);
    await standby.terminate(20_000);
  });
});

/** A TLS connection to the replica, and everything it answers until the server closes it. */
async function openTls(replica: SerinWebhook): Promise<{ socket: TLSSocket; answer: Promise<string> }> {
  const socket = connect({
    host: "127.0.0.1",
    port: replica.port,
    ca: replica.caBundle,
    servername: "localhost",
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const answer = new Promise<string>((resolve) =>
    socket.once("close", () => resolve(Buffer.concat(chunks).toString("utf8"))),
  );
  return { socket, answer };
}

/** Whether a new connection to the port is refused outright. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}
