import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { HostPort } from "../config.js";
import { loadOrCreateCertificates, watchCertificates } from "../tls/cert-dir.js";
import { createAdmissionListener } from "./http.js";
import { createWebhookMetrics } from "./metrics.js";
import { type MutateOptions, mutateDeployment } from "./mutate.js";

export interface WebhookServerOptions {
  listen: HostPort;
  certDir: string;
  /** Names for a generated serving certificate. */
  certNames: string[];
  logger: Logger;
  registry: Registry;
  mutate: MutateOptions;
  isReady?: () => boolean;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/** The HTTPS server around the admission app; reloads its certificate when the files change. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningServer> {
  const { logger } = options;
  const pair = await loadOrCreateCertificates(options.certDir, options.certNames, logger);
  const listener = createAdmissionListener({
    handler: (request) => mutateDeployment(request, options.mutate),
    logger,
    registry: options.registry,
    metrics: createWebhookMetrics(options.registry),
    ...(options.isReady ? { isReady: options.isReady } : {}),
  });
  const server: Server = createServer({ ...pair, minVersion: "TLSv1.2" }, listener);
  server.keepAliveTimeout = 65_000;
  const stopWatching = watchCertificates(options.certDir, (next) => server.setSecureContext(next), logger);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.listen.host, port, certDir: options.certDir }, "webhook listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        stopWatching();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
