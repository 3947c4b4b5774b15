import { diffShared } from "./json-diff.js";

/** The parts of admission.k8s.io/v1 (and v1beta1) AdmissionReview that serin reads and writes. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo?: { username?: string; groups?: string[] };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patch?: string;
  patchType?: "JSONPatch";
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: "AdmissionReview";
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** What a handler decides, before it is marshalled: controller-runtime's Allowed/Patched/Denied/Errored. */
export type Verdict =
  | { type: "allowed"; warnings?: string[] }
  | { type: "patched"; object: unknown; warnings?: string[] }
  | { type: "denied"; code: number; reason: string; message: string }
  | { type: "errored"; code: number; message: string };

export const allowed = (warnings?: string[]): Verdict => ({
  type: "allowed",
  ...(warnings ? { warnings } : {}),
});
export const patched = (object: unknown, warnings?: string[]): Verdict => ({
  type: "patched",
  object,
  ...(warnings ? { warnings } : {}),
});
export const denied = (message: string, code = 422, reason = "Invalid"): Verdict => ({
  type: "denied",
  code,
  reason,
  message,
});
export const errored = (code: number, message: string): Verdict => ({ type: "errored", code, message });

/** The outcome label used in metrics and logs. */
export function outcomeOf(response: AdmissionResponse): "allowed" | "patched" | "denied" | "errored" {
  if (response.patch) return "patched";
  if (response.allowed) return "allowed";
  return (response.status?.code ?? 0) >= 500 || response.status?.reason === "InternalError"
    ? "errored"
    : "denied";
}

/**
 * Echoes the uid and turns a verdict into a response. A patched verdict becomes a JSON patch (computed
 * with fast-json-patch) from the object as sent to the mutated copy; an empty patch is no patch at all (no patchType).
 */
export function complete(uid: string, original: unknown, verdict: Verdict): AdmissionResponse {
  switch (verdict.type) {
    case "allowed":
    case "patched": {
      const response: AdmissionResponse = { uid, allowed: true };
      if (verdict.warnings?.length) response.warnings = verdict.warnings;
      if (verdict.type === "patched") {
        const operations = diffShared(original, verdict.object);
        if (operations.length > 0) {
          response.patchType = "JSONPatch";
          response.patch = Buffer.from(JSON.stringify(operations)).toString("base64");
        }
      }
      return response;
    }
    case "denied":
      return {
        uid,
        allowed: false,
        status: { code: verdict.code, reason: verdict.reason, message: verdict.message },
      };
    case "errored":
      return {
        uid,
        allowed: false,
        status: { code: verdict.code, reason: "InternalError", message: verdict.message },
      };
  }
}

export function reviewOf(apiVersion: string, response: AdmissionResponse): AdmissionReview {
  return { apiVersion, kind: "AdmissionReview", response };
}
