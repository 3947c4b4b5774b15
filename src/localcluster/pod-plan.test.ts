import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { imageConfig } from "./image.js";
import { expandVariables, planContainer } from "./pod-plan.js";

const image = imageConfig(`
FROM node:24-bookworm-slim AS build
RUN true
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
`);
const context = {
  podIP: "10.250.1.2",
  nodeName: "local-node-0",
  apiserverHost: "127.0.0.1",
  apiserverPort: 6443,
};

function pod(container: Record<string, unknown>, spec: Record<string, unknown> = {}): V1Pod {
  return {
    metadata: { name: "serin-abc", namespace: "serin-system", uid: "u-1" },
    spec: { containers: [{ name: "serin", image: "serin:0.1.0", ...container }], ...spec },
  } as V1Pod;
}

test("the Dockerfile's last stage gives the image's working dir, env, user, entrypoint and command", () => {
  assert.equal(image.base, "node:24-bookworm-slim");
  assert.equal(image.workingDir, "/app");
  assert.deepEqual(image.env.at(-1), ["NODE_ENV", "production"]);
  assert.equal(image.user, "65532:65532");
  assert.deepEqual([...image.entrypoint, ...image.cmd], ["node", "dist/src/cli/main.js", "run"]);
});

test("$(VAR) is expanded as Kubernetes does: defined ones replaced, $$ escapes, unknown ones kept", () => {
  const env = new Map([["POD_IP", "10.250.1.2"]]);
  assert.equal(expandVariables("--listen=$(POD_IP):8443", env), "--listen=10.250.1.2:8443");
  assert.equal(expandVariables("$$(POD_IP) $(NOPE)", env), "$(POD_IP) $(NOPE)");
});

test("args replace the image's CMD; env takes fieldRefs; the in-cluster apiserver address is set", () => {
  const plan = planContainer(
    pod({
      args: ["run", "--listen=$(POD_IP):8443"],
      env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
    }),
    image,
    context,
  );
  assert.deepEqual(plan.argv, ["node", "dist/src/cli/main.js", "run", "--listen=10.250.1.2:8443"]);
  const env = new Map(plan.env);
  assert.equal(env.get("KUBERNETES_SERVICE_HOST"), "127.0.0.1");
  assert.equal(env.get("KUBERNETES_SERVICE_PORT"), "6443");
  assert.equal(env.get("NODE_ENV"), "production");
  assert.equal(plan.workingDir, "/app");
  assert.deepEqual([plan.uid, plan.gid], [65532, 65532]);
});

test("a named probe port resolves to the container port; what cannot be honoured is refused by name", () => {
  const plan = planContainer(
    pod({
      ports: [{ name: "https", containerPort: 8443 }],
      readinessProbe: { httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" }, periodSeconds: 2 },
    }),
    image,
    context,
  );
  assert.deepEqual(plan.readiness && [plan.readiness.port, plan.readiness.scheme, plan.readiness.periodMs], [
    8443,
    "HTTPS",
    2000,
  ]);
  assert.throws(
    () =>
      planContainer(
        pod({ securityContext: { runAsUser: 0 } }, { securityContext: { runAsNonRoot: true } }),
        image,
        context,
      ),
    /runAsNonRoot and image will run as root/,
  );
  assert.throws(
    () => planContainer(pod({ readinessProbe: { exec: { command: ["true"] } } }), image, context),
    /only httpGet/,
  );
  assert.throws(
    () => planContainer(pod({ volumeMounts: [{ name: "tls", mountPath: "/etc/tls" }] }), image, context),
    /names no volume/,
  );
});
