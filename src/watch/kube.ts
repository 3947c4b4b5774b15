import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";

/** The typed API clients the watcher uses, made once from one KubeConfig. */
export interface Kube {
  config: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

export function makeKube(config: KubeConfig): Kube {
  return {
    config,
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
  };
}

export const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409;
export const isAlreadyExists = (error: unknown) => statusCode(error) === 409;

/** Runs a delete and treats "already gone" as done. */
export async function ignoreNotFound(request: Promise<unknown>): Promise<void> {
  try {
    await request;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** The message of an API error as the API server wrote it, for logs and status messages. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: string } | string | undefined;
    const message = typeof body === "string" ? safeMessage(body) : body?.message;
    return `HTTP ${error.code}${message ? `: ${message}` : ""}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function safeMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** A JSON patch operation; paths escape "/" and "~" as RFC 6901 says. */
export type PatchOperation =
  | { op: "add" | "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

export const pointer = (...segments: string[]) =>
  `/${segments.map((segment) => segment.replaceAll("~", "~0").replaceAll("/", "~1")).join("/")}`;
