import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { HostPort } from "../config.js";
import { loadOrCreateCertificates, watchCertificates } from "../tls/cert-dir.js";
import { type AdmissionLimits, createAdmissionListener, DEFAULT_LIMITS } from "./http.js";
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
  limits?: Partial<WebhookLimits>;
}

export interface WebhookLimits extends AdmissionLimits {
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Reviews answered on one keep-alive connection; the last answer says `Connection: close`. */
  requestsPerConnection: number;
}

/**
 * kube-apiserver keeps a few keep-alive connections per webhook; 512 leaves room for several
 * apiservers under load, and bounds what idle connections cost (about 50 KiB each with TLS).
 */
const DEFAULT_MAX_CONNECTIONS = 512;

/**
 * kube-apiserver keeps a busy webhook connection open for as long as reviews keep coming, so without an
 * end it would stay on one replica behind the Service, and on the certificate served when it was opened.
 * Ending each connection after this many reviews (cleanly: the client is told before it sends another)
 * spreads the apiserver over the replicas again and puts a renewed certificate in use, for one TLS
 * handshake per 200 reviews.
 */
const DEFAULT_REQUESTS_PER_CONNECTION = 200;

export interface RunningServer {
  port: number;
  /**
   * Stops taking connections at once, lets the requests in flight be answered (each is bounded by the
   * body timeout), closes connections as they fall idle, and resolves once all are gone; whatever is
   * still open after `graceMs` (default: the body timeout) is cut.
   */
  close(graceMs?: number): Promise<void>;
}

/** How often idle keep-alive connections are looked for while draining (Go's Shutdown polls the same way). */
const DRAIN_POLL_MS = 50;

/** The HTTPS server around the admission app; reloads its certificate when the files change. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningServer> {
  const { logger } = options;
  const pair = await loadOrCreateCertificates(options.certDir, options.certNames, logger);
  const limits = {
    ...DEFAULT_LIMITS,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    requestsPerConnection: DEFAULT_REQUESTS_PER_CONNECTION,
    ...options.limits,
  };
  const listener = createAdmissionListener({
    handler: (request) => mutateDeployment(request, options.mutate),
    logger,
    registry: options.registry,
    metrics: createWebhookMetrics(options.registry),
    limits,
    ...(options.isReady ? { isReady: options.isReady } : {}),
  });
  let draining = false;
  const answering = new Set<ServerResponse>();
  const server: Server = createServer(
    {
      ...pair,
      minVersion: "TLSv1.2",
      // A backstop for every path (/mutate answers its own timeout inside an AdmissionReview first),
      // checked every second instead of Node's default 30.
      handshakeTimeout: limits.bodyTimeoutMs,
      headersTimeout: limits.bodyTimeoutMs,
      requestTimeout: limits.bodyTimeoutMs + 2_000,
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      // While draining, every answer closes its connection: the client opens its next one elsewhere.
      if (draining) res.shouldKeepAlive = false;
      else {
        answering.add(res);
        res.once("close", () => answering.delete(res));
      }
      listener(req, res);
    },
  );
  server.keepAliveTimeout = 65_000;
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.requestsPerConnection;
  const stopWatching = watchCertificates(options.certDir, (next) => server.setSecureContext(next), logger);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.listen.host, port, certDir: options.certDir }, "webhook listening");
  return {
    port,
    close: (graceMs = limits.bodyTimeoutMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        for (const res of answering) if (!res.headersSent) res.shouldKeepAlive = false;
        stopWatching();
        let poll: NodeJS.Timeout | undefined;
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(poll);
          clearTimeout(cut);
          resolve();
        });
        // Node closes the connections idle now; kept-alive ones fall idle once their review is answered.
        poll = setInterval(() => server.closeIdleConnections(), DRAIN_POLL_MS);
      }),
  };
}
