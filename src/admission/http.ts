import express, { type ErrorRequestHandler, type Request, type Response } from "express";
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

export const BODY_LIMIT = "3mb";
const REVIEW_VERSIONS = new Set(["admission.k8s.io/v1", "admission.k8s.io/v1beta1"]);

export type AdmissionHandler = (request: AdmissionRequest) => Verdict;

export interface AdmissionAppOptions {
  handler: AdmissionHandler;
  logger: Logger;
  registry: Registry;
  metrics: WebhookMetrics;
  isReady?: () => boolean;
}

/** An answer to a request we could not read as an AdmissionReview: still an AdmissionReview, with a 4xx. */
function rejectReview(
  res: Response,
  httpStatus: number,
  message: string,
  uid = "",
  apiVersion = "admission.k8s.io/v1",
) {
  res
    .status(httpStatus)
    .json(reviewOf(apiVersion, { uid, allowed: false, status: { code: httpStatus, message } }));
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

/** HTTP only: body limit, content type, decoding; the decision is the handler's. */
export function createAdmissionApp(options: AdmissionAppOptions): express.Express {
  const { handler, logger, registry, metrics } = options;
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

  app.post(
    "/mutate",
    (req, res, next) => {
      if (!req.is("application/json")) {
        metrics.requests.inc({ outcome: "invalid" });
        rejectReview(
          res,
          400,
          `Content-Type must be application/json, not "${req.get("content-type") ?? ""}"`,
        );
        return;
      }
      next();
    },
    express.json({ limit: BODY_LIMIT, strict: false }),
    (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const problem = malformed(req.body);
      if (problem) {
        metrics.requests.inc({ outcome: "invalid" });
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
      const review = req.body as AdmissionReview;
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
      res.json(reviewOf(review.apiVersion, response));
    },
  );

  const bodyErrors: ErrorRequestHandler = (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: number }).status;
    metrics.requests.inc({ outcome: "invalid" });
    if (status === 413) return rejectReview(res, 413, `request body is larger than ${BODY_LIMIT}`);
    if (status === 400 || (error as { type?: string }).type === "entity.parse.failed") {
      return rejectReview(res, 400, `request body is not valid JSON: ${(error as Error).message}`);
    }
    logger.error({ err: error }, "webhook request failed");
    return rejectReview(res, 500, "serin: internal error while reading the request");
  };
  app.use(bodyErrors);
  return app;
}
