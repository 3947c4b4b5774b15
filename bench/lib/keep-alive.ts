// JSON merge PATCHes over connections kept alive between calls, with nothing between the benchmark and
// node:https: what a write costs the apiserver without a TLS handshake or a client library's own work.
import { Agent, request } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export interface KeepAliveClient {
  /** One JSON merge PATCH; rejects unless the apiserver answers 200. */
  patch(path: string, body: unknown): Promise<void>;
  close(): void;
}

export async function keepAliveClient(config: KubeConfig, maxSockets = 1): Promise<KeepAliveClient> {
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig names no cluster server");
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  await config.applyToHTTPSOptions(tls);
  const agent = new Agent({ keepAlive: true, maxSockets, ca: tls.ca, cert: tls.cert, key: tls.key });
  const patch = (path: string, body: unknown) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        new URL(path, server),
        {
          method: "PATCH",
          agent,
          timeout: 30_000,
          headers: { "content-type": "application/merge-patch+json" },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`PATCH ${path}: ${res.statusCode}`)),
          );
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`PATCH ${path} timed out`)));
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  return { patch, close: () => agent.destroy() };
}
