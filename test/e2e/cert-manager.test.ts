import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "node:tls";
import { AppsV1Api, type V1Deployment } from "@kubernetes/client-node";
import { startCertManager } from "../../src/localcluster/cert-manager.js";
import { routeService } from "../../src/localcluster/cluster-network.js";
import { mirrorSecret, type SecretMirror } from "../../src/localcluster/secret-volume.js";
import {
  repoRoot,
  type SerinWebhook,
  startSerinWebhook,
  waitFor,
  withControlPlane,
} from "../harness/index.js";

/**
 * The chart's cert-manager mode on the real cert-manager (controller and CA injector of the pinned
 * release): the Certificate is issued, the CA injector fills the webhook configuration's caBundle, and a
 * serin webhook serving that certificate from its mounted Secret answers admission through the apiserver,
 * called by Service name as in a cluster (TLS checked for serin.serin-system.svc). Then renewals while
 * admission requests keep coming: none fails, and the certificate served changes.
 *
 * Nothing here runs the chart's pods, so `serin webhook` runs as a process with the Secret mirrored into
 * its cert dir the way the kubelet updates a Secret volume (a `..data` symlink swap), and the apiserver's
 * connections to the Service's addresses are routed to it (cluster-network.ts).
 */
const env = withControlPlane({ clusterNetwork: true });
const chart = join(repoRoot, "charts", "serin");
const NS = "serin-system";
const APPS = "apps";
const SERVICE_HOST = `serin.${NS}.svc`;

interface SecretData {
  "ca.crt": string;
  "tls.crt": string;
  "tls.key": string;
}

async function json<T>(args: string[]): Promise<T> {
  const result = await env.cp.kubectl([...args, "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

async function servingSecret(): Promise<SecretData> {
  const secret = await json<{ data: Record<string, string> }>([
    "get",
    "secret",
    "serin-webhook-tls",
    "-n",
    NS,
  ]);
  const decode = (key: string) => Buffer.from(secret.data[key] ?? "", "base64").toString("utf8");
  return { "ca.crt": decode("ca.crt"), "tls.crt": decode("tls.crt"), "tls.key": decode("tls.key") };
}

/** The serial of the certificate a TLS client gets from the webhook, verified as the apiserver verifies it. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: SERVICE_HOST, ca, timeout: 5_000 }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? "";
      socket.end();
      resolve(serial);
    });
    socket.once("timeout", () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("error", reject);
  });
}

function deployment(name: string): V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: APPS, labels: { ...labels, "serin.dev/canary": "enabled" } },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
      },
    },
  };
}

let webhook: SerinWebhook;
let mirror: SecretMirror;
let certDir: string;

test("cert-manager mode: the Certificate is issued, the CA injector fills the caBundle, the webhook answers through the apiserver", async () => {
  await startCertManager(env.cp);
  const install = await env.cp.helm(3, [
    "install",
    "serin",
    chart,
    "-n",
    NS,
    "--create-namespace",
    "--set",
    "webhook.certManager.enabled=true",
  ]);
  assert.equal(install.code, 0, install.stderr);

  const ready = await env.cp.kubectl(
    ["wait", "--for=condition=Ready", "certificate/serin-webhook", "-n", NS, "--timeout=60s"],
    { timeoutMs: 70_000 },
  );
  assert.equal(ready.code, 0, `the Certificate did not become Ready: ${ready.stderr}`);

  const secret = await servingSecret();
  const ca = new X509Certificate(secret["ca.crt"]);
  const serving = new X509Certificate(secret["tls.crt"]);
  assert.ok(ca.ca, "ca.crt is a CA");
  assert.ok(
    serving.checkIssued(ca) && serving.verify(ca.publicKey),
    "the chart's CA signed the serving certificate",
  );
  assert.ok(serving.checkHost(SERVICE_HOST), `the serving certificate is valid for ${SERVICE_HOST}`);

  const caBundle = await waitFor(
    async () => {
      const config = await json<{ webhooks: { clientConfig: { caBundle?: string } }[] }>([
        "get",
        "mutatingwebhookconfiguration",
        "serin",
      ]);
      const bundle = config.webhooks[0]?.clientConfig.caBundle;
      return bundle ? Buffer.from(bundle, "base64").toString("utf8") : undefined;
    },
    { timeoutMs: 30_000, what: "the CA injector to fill the caBundle" },
  );
  assert.equal(caBundle, secret["ca.crt"], "the caBundle is the CA that signed the serving certificate");

  certDir = await mkdtemp(join(tmpdir(), "serin-webhook-tls-"));
  mirror = await mirrorSecret(env.cp, NS, "serin-webhook-tls", certDir);
  webhook = await startSerinWebhook(env.cp, { existingCerts: { dir: certDir, serverName: SERVICE_HOST } });
  env.cp.onStop(async () => {
    mirror.stop();
    await rm(certDir, { recursive: true, force: true });
  });
  let routed: string[] = [];
  assert.equal(await servedSerial(webhook.port, secret["ca.crt"]), serving.serialNumber);

  assert.equal((await env.cp.kubectl(["create", "namespace", APPS])).code, 0);
  const apps = env.cp.kubeConfig().makeApiClient(AppsV1Api);
  const created = await waitFor(
    async () => {
      // Again each time: the addresses include the endpoints of the chart's pods once they are Ready.
      routed = await routeService(env.cp, NS, "serin", webhook.port);
      const answer = await apps.createNamespacedDeployment({
        namespace: APPS,
        body: deployment("probe"),
        dryRun: "All",
      });
      return answer.spec?.template.metadata?.labels?.["serin.dev/track"] === "stable" ? answer : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "the webhook's answer through the apiserver" },
  );
  assert.equal(created.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");
  const dialed = [...(env.cp.clusterNetwork?.connects().keys() ?? [])];
  assert.ok(
    dialed.some((address) => routed.includes(address)),
    `the apiserver reached the webhook through the Service's addresses (${routed.join(", ")}); it dialed ${dialed.join(", ")}`,
  );
});

test("renewals while admission requests keep coming: none fails, and the served certificate changes", async (t) => {
  const apps = env.cp.kubeConfig().makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({ namespace: APPS, body: deployment("load") });
  const stored = await apps.readNamespacedDeployment({ name: "load", namespace: APPS });
  assert.equal(stored.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");

  // Each request is a dry-run update with a new pod template: only the webhook's answer holds it back
  // and names a pending revision, so every success is an admission the webhook answered.
  let answered = 0;
  const failures: string[] = [];
  let sending = true;
  const sendUntilStopped = async (worker: number) => {
    for (let i = 0; sending && i < 20_000; i++) {
      const body: V1Deployment = structuredClone(stored);
      // Unconditional: the Deployment controller's status writes move the resourceVersion meanwhile.
      if (body.metadata) delete body.metadata.resourceVersion;
      body.spec = body.spec ?? { selector: {}, template: {} };
      body.spec.template.metadata = {
        ...body.spec.template.metadata,
        annotations: { "example.com/build": `${worker}-${i}` },
      };
      try {
        const answer = await apps.replaceNamespacedDeployment({
          name: "load",
          namespace: APPS,
          body,
          dryRun: "All",
        });
        if (answer.metadata?.annotations?.["serin.dev/pending-revision"]) answered += 1;
        else failures.push("an update came back without the webhook's answer");
      } catch (error) {
        failures.push((error as Error).message.slice(0, 300));
      }
    }
  };
  const load = Promise.all([1, 2, 3].map(sendUntilStopped));

  const routed = await routeService(env.cp, NS, "serin", webhook.port);
  const connections = () => {
    let count = 0;
    for (const [address, times] of env.cp.clusterNetwork?.connects() ?? []) {
      if (routed.includes(address)) count += times;
    }
    return count;
  };
  const newConnections: number[] = [];
  const ca = (await servingSecret())["ca.crt"];
  const serials: string[] = [await servedSerial(webhook.port, ca)];
  try {
    for (let renewal = 1; renewal <= 2; renewal++) {
      const before = (await servingSecret())["tls.crt"];
      // What `cmctl renew` does: mark the Certificate as Issuing; the controller issues a new one.
      const issuing = {
        type: "Issuing",
        status: "True",
        reason: "ManuallyTriggered",
        message: "renewal triggered by the test",
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      };
      const renew = await env.cp.kubectl([
        "patch",
        "certificate",
        "serin-webhook",
        "-n",
        NS,
        "--subresource=status",
        "--type=json",
        "-p",
        JSON.stringify([{ op: "add", path: "/status/conditions/-", value: issuing }]),
      ]);
      assert.equal(renew.code, 0, renew.stderr);
      const renewed = await waitFor(
        async () => {
          const now = await servingSecret();
          return now["tls.crt"] !== before ? now : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: `renewal ${renewal} to be written to the Secret` },
      );
      assert.equal(renewed["ca.crt"], ca, "the CA stays: the caBundle stays valid");
      const newSerial = new X509Certificate(renewed["tls.crt"]).serialNumber;
      await waitFor(async () => ((await servedSerial(webhook.port, ca)) === newSerial ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: `the webhook to serve renewal ${renewal}`,
      });
      serials.push(newSerial);
      // The apiserver keeps its connections while reviews keep coming; serin ends each after 200
      // reviews, so new ones are opened, and their handshakes get the renewed certificate.
      const connectionsAtRenewal = connections();
      const target = answered + 40;
      await waitFor(
        async () => {
          if (connections() >= connectionsAtRenewal + 2 && answered >= target) return true;
          throw new Error(
            `${connections() - connectionsAtRenewal} new connections, ${answered} answered, ${failures.length} failed, last: ${failures.at(-1) ?? "none"}`,
          );
        },
        { timeoutMs: 60_000, what: "new apiserver connections and admission requests after the renewal" },
      );
      newConnections.push(connections() - connectionsAtRenewal);
    }
  } finally {
    sending = false;
    await load;
  }

  t.diagnostic(
    `rotation: ${answered} admission requests answered across 2 renewals, ${failures.length} failed; served serials ${serials.join(" -> ")}; apiserver connections opened after each renewal was served: ${newConnections.join(", ")}; the Secret volume was rewritten ${mirror.writes() - 1} times`,
  );
  assert.deepEqual(failures, [], "no admission request failed during the renewals");
  assert.equal(new Set(serials).size, 3, "each renewal changed the served certificate");
  assert.ok(answered >= 80, `enough requests spanned the renewals (${answered})`);
  assert.deepEqual(
    webhook.logs().filter((line) => line.includes("could not read the serving certificate")),
    [],
  );
});
