import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express from "express";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
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
export const BODY_LIMIT_BYTES = 3 * 1024 * 1024;
const REVIEW_VERSIONS = new Set(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]);

export type AdmissionHandler = (request: AdmissionRequest) => Verdict;

export interface AdmissionAppOptions {
  handler: AdmissionHandler;
  logger: Logger;
  registry: Registry;
  metrics: WebhookMetrics;
  isReady?: () => boolean;
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
  if (!apiVersion)
    return { problem: `apiVersion "${review.apiVersion}" is not admission.k8s.io/v1 or v1beta1`, ...found };
  const request = review.request;
  if (!request || typeof request !== "object") return { problem: "request is missing", ...found };
  if (!uid) return { problem: "request.uid is missing", ...found };
  if (!request.kind || typeof request.kind.kind !== "string")
    return { problem: "request.kind is missing", ...found };
  if (typeof request.operation !== "string") return { problem: "request.operation is missing", ...found };
  return undefined;
}

/**
 * POST /mutate, on Node's HTTP objects directly (controller-runtime's http.go layer): limit the body,
 * check the content type, decode; the decision is the handler's. Every answer is an AdmissionReview.
 * Kept out of express, whose per-request work halved the throughput of this path in the benchmark.
 */
function admissionEndpoint(options: AdmissionAppOptions): RequestListener {
  const { handler, logger, metrics } = options;
  const invalid = () => metrics.requests.inc({ outcome: "invalid" });

  const decide = (res: ServerResponse, body: unknown, started: bigint) => {
    const problem = malformed(body);
    if (problem) {
      invalid();
      logger.warn({ uid: problem.uid }, `malformed AdmissionReview: ${problem.problem}`);
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
    const log = logger.child({
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
      log.error({ err: error }, "admission handler failed");
      verdict = errored(500, `serin: internal error: ${(error as Error).message}`);
    }
    const response = complete(request.uid, request.object, verdict);
    const outcome = outcomeOf(response);
    metrics.requests.inc({ outcome });
    metrics.duration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome === "allowed") log.debug({ outcome }, "admitted");
    else log.info({ outcome, message: response.status?.message, warnings: response.warnings }, "admitted");
    sendJson(res, 200, reviewOf(review.apiVersion, response));
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const contentType = req.headers["content-type"] ?? "";
    if (!/^application\/json\s*(;|$)/i.test(contentType)) {
      invalid();
      req.resume();
      rejectReview(res, 400, `Content-Type must be application/json, not "${contentType}"`);
      return;
    }
    const tooLarge = () => {
      invalid();
      // Read the rest and drop it, so the client gets the answer rather than a reset.
      req.removeAllListeners("data");
      req.resume();
      rejectReview(
        res,
        413,
        `request body is larger than ${BODY_LIMIT_BYTES / 1024 / 1024} MiB`,
        "",
        undefined,
        true,
      );
    };
    if (Number(req.headers["content-length"] ?? 0) > BODY_LIMIT_BYTES) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) {
        rejected = true;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (rejected) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
      } catch (error) {
        invalid();
        rejectReview(res, 400, `request body is not valid JSON: ${(error as Error).message}`);
        return;
      }
      decide(res, body, started);
    });
    req.on("error", (error) => logger.warn({ err: error }, "reading an admission request failed"));
  };
}

/** The webhook's request listener: POST /mutate on the endpoint above, everything else on express. */
export function createAdmissionListener(options: AdmissionAppOptions): RequestListener {
  const { registry } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
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
