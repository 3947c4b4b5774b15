// A validating admission webhook that holds chosen requests open until the test lets them go: a write
// that is "in flight" for as long as a test needs, to see what a process does meanwhile.
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { ControlPlane } from "../../src/localcluster/control-plane.js";
import { createCertificateAuthority, issueServingCertificate } from "../../src/localcluster/pki.js";

export interface HeldRequest {
  operation: string;
  name: string;
  namespace: string;
  /** The object as the writer sent it. */
  object: Record<string, unknown>;
}

export interface HoldingWebhook {
  /** Holds the next matching request; resolves with it once the apiserver has sent it. */
  holdNext(): Promise<HeldRequest>;
  /** Lets the held request through (allowed). */
  release(): void;
  stop(): Promise<void>;
}

export interface HoldingWebhookOptions {
  name: string;
  group: string;
  resource: string;
  namespace: string;
  operations: string[];
}

export async function startHoldingWebhook(
  cp: ControlPlane,
  options: HoldingWebhookOptions,
): Promise<HoldingWebhook> {
  const ca = await createCertificateAuthority("holding-webhook-ca");
  const serving = await issueServingCertificate(ca, ["127.0.0.1"]);
  let armed: ((request: HeldRequest) => void) | undefined;
  let releaseHeld: (() => void) | undefined;
  const server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        request: HeldRequest & { uid: string };
      };
      const { uid, operation, name, namespace, object } = review.request;
      const take = armed;
      if (take) {
        armed = undefined;
        await new Promise<void>((resolve) => {
          releaseHeld = resolve;
          take({ operation, name, namespace, object });
        });
      }
      res.setHeader("Content-Type", "application/json");
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: { uid, allowed: true },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const configuration = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: options.name },
    webhooks: [
      {
        name: `${options.name}.test.serin.dev`,
        clientConfig: {
          url: `https://127.0.0.1:${port}/validate`,
          caBundle: Buffer.from(ca.certPem).toString("base64"),
        },
        rules: [
          {
            apiGroups: [options.group],
            apiVersions: ["*"],
            resources: [options.resource],
            operations: options.operations,
          },
        ],
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": options.namespace } },
        failurePolicy: "Fail",
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 20,
      },
    ],
  };
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(configuration) });
  if (applied.code !== 0) throw new Error(applied.stderr);
  return {
    holdNext: () =>
      new Promise<HeldRequest>((resolve) => {
        armed = resolve;
      }),
    release: () => releaseHeld?.(),
    stop: async () => {
      releaseHeld?.();
      await cp.kubectl(["delete", "validatingwebhookconfiguration", options.name, "--ignore-not-found"]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
