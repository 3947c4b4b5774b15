/** Errors of the Kubernetes API as client-node 1.x reports them (ApiException: code and body). */

export function apiErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export const isNotFound = (error: unknown) => apiErrorCode(error) === 404;
/** A resourceVersion conflict on update, or "already exists" on create. */
export const isConflict = (error: unknown) => apiErrorCode(error) === 409;

/** Runs a delete and treats "already gone" as done. */
export async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** The Status the API server answered with, when the body is one. */
export function statusBody(error: unknown): Record<string, unknown> | undefined {
  const body = (error as { body?: unknown } | null)?.body;
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
}

/** The apiserver's own words: its Status message or plain-text body, not client-node's dump of headers. */
export function apiErrorMessage(error: unknown): string {
  const message = statusBody(error)?.message;
  if (typeof message === "string") return message;
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === "string" && body.trim() !== "") return body.trim();
  return error instanceof Error ? error.message : String(error);
}

/** "HTTP 409: <the apiserver's message>", for logs and status messages. */
export function describeApiError(error: unknown): string {
  const code = apiErrorCode(error);
  return code ? `HTTP ${code}: ${apiErrorMessage(error)}` : apiErrorMessage(error);
}
