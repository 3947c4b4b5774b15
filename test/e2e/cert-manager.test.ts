import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "node:tls";
import { AppsV1Api, type V1Deployment } from "@kubernetes/client-node";
import { startCertManager } from "../../src/localcluster/cert-manager.js";
import {
  type LocalKubelet,
  repoRoot,
  startLocalKubelet,
  waitFor,
  withControlPlane,
} from "../harness/index.js";

/**
 * The chart's cert-manager mode on the real cert-manager (controller and CA injector of the pinned
 * release), with the chart's pods really running (the local kubelet): the Certificate is issued, the CA
 * injector fills the webhook configuration's caBundle, the two replicas serve that certificate from the
 * mounted Secret and answer admission through the apiserver, called by Service as in a cluster (TLS
 * checked for serin.serin-system.svc), and the chart's own `helm test` passes. Then renewals while
 * admission requests keep coming: the kubelet swaps the Secret volume, both replicas serve the new
 * certificate without a restart, and no request fails.
 */
const env = withControlPlane({ endpointRouting: true, crds: ["trafficsplit-linkerd-smi"] });
const chart = join(repoRoot, "charts", "serin");
const NS = "serin-system";
const APPS = "apps";
const SERVICE_HOST = `serin.${NS}.svc`;
/** serin ends a keep-alive connection after this many reviews (src/admission/server.ts). */
const REVIEWS_PER_CONNECTION = 200;
let kubelet: LocalKubelet;

interface SecretData {
  "ca.crt": string;
  "tls.crt": string;
  "tls.key": string;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON as kubectl prints it, read field by field
type Json = Record<string, any>;

async function json<T = Json>(args: string[]): Promise<T> {
  const result = await env.cp.kubectl([...args, "-o", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

async function servingSecret(): Promise<SecretData> {
  const secret = await json(["get", "secret", "serin-webhook-tls", "-n", NS]);
  const decode = (key: string) => Buffer.from(secret.data[key] ?? "", "base64").toString("utf8");
  return { "ca.crt": decode("ca.crt"), "tls.crt": decode("tls.crt"), "tls.key": decode("tls.key") };
}

async function serinPods(): Promise<Json[]> {
  return (await json(["get", "pods", "-n", NS, "-l", "app.kubernetes.io/name=serin"])).items as Json[];
}

function podLogs(pods: Json[]): string {
  return pods
    .map(
      (pod) =>
        `--- ${pod.metadata.name}\n${kubelet.containerLog(NS, pod.metadata.name).split("\n").slice(-15).join("\n")}`,
    )
    .join("\n");
}

/** The serial of the certificate a replica serves, verified as the apiserver verifies it. */
function servedSerial(podIP: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: podIP, port: 8443, servername: SERVICE_HOST, ca, timeout: 5_000 }, () => {
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

test("cert-manager mode: issued, caBundle injected, both replicas answer admission through the apiserver, helm test passes", async () => {
  await startCertManager(env.cp);
  // The kubelet compares Secret volumes with their Secrets every second (a kubelet: about a minute).
  kubelet = await startLocalKubelet(env.cp, { image: "serin:0.1.0", volumeSyncMs: 1_000 });
  const install = await env.cp.helm(
    3,
    [
      "install",
      "serin",
      chart,
      "-n",
      NS,
      "--create-namespace",
      "--set",
      "webhook.certManager.enabled=true",
      "--set-json",
      `nodeSelector=${JSON.stringify(kubelet.placement.nodeSelector)}`,
      "--set-json",
      `tolerations=${JSON.stringify(kubelet.placement.tolerations)}`,
      "--wait",
      "--timeout",
      "3m",
    ],
    { timeoutMs: 240_000 },
  );
  assert.equal(install.code, 0, `${install.stderr}\n${podLogs(await serinPods())}`);

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
      const config = await json(["get", "mutatingwebhookconfiguration", "serin"]);
      const bundle: string | undefined = config.webhooks[0]?.clientConfig.caBundle;
      return bundle ? Buffer.from(bundle, "base64").toString("utf8") : undefined;
    },
    { timeoutMs: 30_000, what: "the CA injector to fill the caBundle" },
  );
  assert.equal(caBundle, secret["ca.crt"], "the caBundle is the CA that signed the serving certificate");

  const pods = await serinPods();
  assert.equal(pods.length, 2);
  for (const pod of pods) {
    assert.equal(await servedSerial(pod.status.podIP, secret["ca.crt"]), serving.serialNumber);
  }

  assert.equal((await env.cp.kubectl(["create", "namespace", APPS])).code, 0);
  const apps = env.cp.kubeConfig().makeApiClient(AppsV1Api);
  const created = await waitFor(
    async () => {
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

  const check = await env.cp.helm(3, ["test", "serin", "-n", NS, "--timeout", "2m"], { timeoutMs: 150_000 });
  assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
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

  const ca = (await servingSecret())["ca.crt"];
  const podIPs = (await serinPods()).map((pod) => pod.status.podIP as string);
  const servedSerials = () => Promise.all(podIPs.map((ip) => servedSerial(ip, ca)));
  const serials: string[] = [...new Set(await servedSerials())];
  assert.equal(serials.length, 1, "both replicas serve the same certificate");
  const reviewsAfterRenewal: number[] = [];
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
      await waitFor(
        async () => ((await servedSerials()).every((serial) => serial === newSerial) ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 200, what: `both replicas to serve renewal ${renewal}` },
      );
      serials.push(newSerial);
      // The apiserver keeps its connections while reviews keep coming; serin ends each after 200
      // reviews, and new connections get the renewed certificate. Three times that many reviews more
      // than cover the connections three clients keep busy.
      const servedAt = answered;
      const target = servedAt + 3 * REVIEWS_PER_CONNECTION;
      await waitFor(
        async () => {
          if (answered >= target) return true;
          throw new Error(
            `${answered - servedAt} answered since, ${failures.length} failed, last: ${failures.at(-1) ?? "none"}`,
          );
        },
        { timeoutMs: 90_000, what: "admission requests after the renewal was served" },
      );
      reviewsAfterRenewal.push(answered - servedAt);
    }
  } finally {
    sending = false;
    await load;
  }

  t.diagnostic(
    `rotation: ${answered} admission requests answered across 2 renewals, ${failures.length} failed; both replicas' serials ${serials.join(" -> ")}; reviews answered after each renewal was served: ${reviewsAfterRenewal.join(", ")}`,
  );
  assert.deepEqual(failures, [], "no admission request failed during the renewals");
  assert.equal(new Set(serials).size, 3, "each renewal changed the served certificate");
  const pods = await serinPods();
  for (const pod of pods) {
    assert.equal(pod.status.containerStatuses[0].restartCount, 0, `${pod.metadata.name} was not restarted`);
    assert.doesNotMatch(
      kubelet.containerLog(NS, pod.metadata.name),
      /could not read the serving certificate/,
    );
  }
});
