import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express from "express";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { shorten } from "../contract/quote.js";
import { createLogLimiter } from "./log-limit.js";
import type { WebhookMetrics } from "./metrics.js";
import {
  type AdmissionRequest,
  type AdmissionReview,
  complete,
  errored,
  outcomeOf,
  reviewOf,
  type Verdict,
} from "./review.js";

/** 3 MiB: kube-apiserver's own limit for a request body is about this size. */
const BODY_LIMIT_BYTES = 3 * 1024 * 1024;
const REVIEW_VERSIONS = new Set(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]);

/** What one client, or many, may cost the webhook; DEFAULT_LIMITS fit the chart's 384 MiB. */
export interface AdmissionLimits {
  /** Time to receive a review's whole body; a stalled one is answered 408 and its connection closed. */
  bodyTimeoutMs: number;
  /** Body bytes held across all requests in flight; past it, the largest bodies are refused with 503. */
  bufferedBytesMax: number;
  /** Log lines a second about requests that were denied, refused or malformed; the rest are counted. */
  logLinesPerSecond: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = {
  bodyTimeoutMs: 10_000,
  bufferedBytesMax: 32 * 1024 * 1024,
  logLinesPerSecond: 10,
};

export type AdmissionHandler = (request: AdmissionRequest) => Verdict;

export interface AdmissionAppOptions {
  handler: AdmissionHandler;
  logger: Logger;
  registry: Registry;
  metrics: WebhookMetrics;
  isReady?: () => boolean;
  limits?: Partial<AdmissionLimits>;
}

function sendJson(res: ServerResponse, status: number, value: unknown, close = false): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(body);
}

/** An answer to a request we could not read as an AdmissionReview: still an AdmissionReview, with a 4xx. */
function rejectReview(
  res: ServerResponse,
  httpStatus: number,
  message: string,
  uid = "",
  apiVersion = "admission.k8s.io/v1",
  close = false,
) {
  sendJson(
    res,
    httpStatus,
    reviewOf(apiVersion, { uid, allowed: false, status: { code: httpStatus, message } }),
    close,
  );
}

function malformed(body: unknown): { problem: string; uid?: string; apiVersion?: string } | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    return { problem: "body is not a JSON object" };
  const review = body as Partial<AdmissionReview>;
  const uid = typeof review.request?.uid === "string" ? review.request.uid : undefined;
  const apiVersion = REVIEW_VERSIONS.has(review.apiVersion ?? "") ? review.apiVersion : undefined;
  const found = { ...(uid ? { uid } : {}), ...(apiVersion ? { apiVersion } : {}) };
  if (review.kind !== "AdmissionReview") return { problem: 'kind is not "AdmissionReview"', ...found };
  if (!apiVersion) {
    const given = shorten(String(review.apiVersion), 100);
    return { problem: `apiVersion "${given}" is not admission.k8s.io/v1 or v1beta1`, ...found };
  }
  const request = review.request;
  if (!request || typeof request !== "object") return { problem: "request is missing", ...found };
  if (!uid) return { problem: "request.uid is missing", ...found };
  if (!request.kind || typeof request.kind.kind !== "string")
    return { problem: "request.kind is missing", ...found };
  if (typeof request.operation !== "string") return { problem: "request.operation is missing", ...found };
  return undefined;
}

/** A body being received: what it holds so far, and how to refuse it. */
interface BodyInFlight {
  size: number;
  chunks: Buffer[];
  refuse(httpStatus: number, message: string): void;
}

/**
 * The body bytes held by all requests at once. Past the bound, the largest bodies in flight are
 * refused first: a client that sends megabytes slowly on many connections loses its own requests,
 * while the small reviews kube-apiserver sends meanwhile are still read and answered.
 */
class BodyBudget {
  private total = 0;
  private readonly inFlight = new Set<BodyInFlight>();

  constructor(private readonly maxBytes: number) {}

  add(body: BodyInFlight, chunk: Buffer): void {
    this.inFlight.add(body);
    body.chunks.push(chunk);
    body.size += chunk.length;
    this.total += chunk.length;
    while (this.total > this.maxBytes) {
      let largest: BodyInFlight | undefined;
      for (const candidate of this.inFlight)
        if (!largest || candidate.size > largest.size) largest = candidate;
      if (!largest) break;
      largest.refuse(
        503,
        `serin is holding more than ${this.maxBytes / 1024 / 1024} MiB of request bodies; this ${Math.ceil(largest.size / 1024)} KiB body was dropped, try again`,
      );
    }
  }

  release(body: BodyInFlight): void {
    if (!this.inFlight.delete(body)) return;
    this.total -= body.size;
    body.chunks = [];
  }
}

/**
 * POST /mutate, on Node's HTTP objects directly (controller-runtime's http.go layer): limit the body,
 * check the content type, decode; the decision is the handler's. Every answer is an AdmissionReview.
 * Kept out of express, whose per-request work halved the throughput of this path in the benchmark.
 */
function admissionEndpoint(options: AdmissionAppOptions): RequestListener {
  const { handler, logger, metrics } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const budget = new BodyBudget(limits.bufferedBytesMax);
  const limited = createLogLimiter(logger, limits.logLinesPerSecond);
  const invalid = () => metrics.requests.inc({ outcome: "invalid" });

  const decide = (res: ServerResponse, body: unknown, started: bigint) => {
    const problem = malformed(body);
    if (problem) {
      invalid();
      limited.write(() => logger.warn({ uid: problem.uid }, `malformed AdmissionReview: ${problem.problem}`));
      rejectReview(
        res,
        400,
        `malformed AdmissionReview: ${problem.problem}`,
        problem.uid,
        problem.apiVersion,
      );
      return;
    }
    const review = body as AdmissionReview;
    const request = review.request as AdmissionRequest;
    const log = () =>
      logger.child({
        uid: request.uid,
        namespace: request.namespace,
        name: request.name,
        user: request.userInfo?.username,
        operation: request.operation,
      });
    let verdict: Verdict;
    try {
      verdict = handler(request);
    } catch (error) {
      limited.write(() => log().error({ err: error }, "admission handler failed"));
      verdict = errored(500, `serin: internal error: ${shorten((error as Error).message)}`);
    }
    const response = complete(request.uid, request.object, verdict);
    const outcome = outcomeOf(response);
    metrics.requests.inc({ outcome });
    metrics.duration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome === "allowed") log().debug({ outcome }, "admitted");
    else {
      const fields = { outcome, message: response.status?.message, warnings: response.warnings };
      limited.write(() => log().info(fields, "admitted"));
    }
    sendJson(res, 200, reviewOf(review.apiVersion, response));
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      invalid();
      req.resume();
      rejectReview(res, 400, `Content-Type must be application/json, not "${shorten(contentType, 100)}"`);
      return;
    }
    let answered = false;
    const body: BodyInFlight = {
      size: 0,
      chunks: [],
      refuse(httpStatus, message) {
        if (answered) return;
        answered = true;
        invalid();
        budget.release(body);
        // Read the rest and drop it, so the client gets the answer rather than a reset.
        req.removeListener("data", receive);
        req.resume();
        limited.write(() => logger.warn({ status: httpStatus }, message));
        rejectReview(res, httpStatus, message, "", undefined, true);
      },
    };
    // Also ends the draining of a refused body: a client that keeps sending is cut off.
    const deadline = setTimeout(() => {
      body.refuse(408, `request body not received within ${limits.bodyTimeoutMs / 1000}s`);
      if (res.writableFinished) req.socket.destroy();
      else res.once("finish", () => req.socket.destroy());
    }, limits.bodyTimeoutMs);
    deadline.unref();
    const tooLarge = () =>
      body.refuse(413, `request body is larger than ${BODY_LIMIT_BYTES / 1024 / 1024} MiB`);
    const receive = (chunk: Buffer) => {
      if (body.size + chunk.length > BODY_LIMIT_BYTES) tooLarge();
      else budget.add(body, chunk);
    };
    req.on("close", () => {
      clearTimeout(deadline);
      budget.release(body);
    });
    if (Number(req.headers["content-length"] ?? 0) > BODY_LIMIT_BYTES) return tooLarge();
    req.on("data", receive);
    req.on("end", () => {
      clearTimeout(deadline);
      if (answered) return;
      answered = true;
      const text = Buffer.concat(body.chunks, body.size).toString("utf8");
      budget.release(body);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        invalid();
        rejectReview(res, 400, `request body is not valid JSON: ${shorten((error as Error).message)}`);
        return;
      }
      decide(res, parsed, started);
    });
    req.on("error", (error) =>
      limited.write(() => logger.warn({ err: error }, "reading an admission request failed")),
    );
  };
}

/** The webhook's request listener: POST /mutate on the endpoint above, everything else on express. */
export function createAdmissionListener(options: AdmissionAppOptions): RequestListener {
  const { registry } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // Liveness: the process answers. Kept apart from readiness, which waits for the watcher's caches.
  app.get(["/healthz", "/livez"], (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get("/readyz", (_req, res) => {
    const ready = options.isReady?.() ?? true;
    res
      .status(ready ? 200 : 503)
      .type("text/plain")
      .send(ready ? "ok" : "not ready");
  });
  app.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  const mutate = admissionEndpoint(options);
  return (req, res) => {
    if (req.method === "POST" && (req.url === "/mutate" || req.url?.startsWith("/mutate?"))) mutate(req, res);
    else app(req, res);
  };
}
