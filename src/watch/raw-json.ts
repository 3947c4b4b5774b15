// Requests whose bodies are the apiserver's JSON exactly as stored. client-node's typed calls pass bodies
// through its model classes, which drop every field their version does not know: a pod-template field
// newer than client-node 1.4 would be lost between the user's Deployment and `<name>-canary`, so the
// canary could run something other than what is promoted. What carries a user's template goes here.

import { request as plainRequest } from "node:http";
import { Agent, type RequestOptions, request } from "node:https";
import { ApiException, type KubeConfig } from "@kubernetes/client-node";

/** No answer of the apiserver that serin reads is anywhere near this; a larger one is refused. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;

export type RawMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export class RawJsonClient {
  private agent: Agent | undefined;

  constructor(
    private readonly config: KubeConfig,
    private readonly fieldManager = "serin",
  ) {}

  /** One request; a non-2xx answer throws an ApiException with the apiserver's Status as its body. */
  async send<T>(
    method: RawMethod,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const server = this.config.getCurrentCluster()?.server;
    if (!server) throw new Error("the kubeconfig names no cluster server");
    const url = new URL(path, server);
    if (method !== "GET" && method !== "DELETE") url.searchParams.set("fieldManager", this.fieldManager);
    const options: RequestOptions = { method, timeout: REQUEST_TIMEOUT_MS };
    await this.config.applyToHTTPSOptions(options);
    const fresh = options.agent;
    if (fresh instanceof Agent) {
      this.agent ??= new Agent({ ...fresh.options, keepAlive: true });
      options.agent = this.agent;
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    options.headers = {
      ...options.headers,
      accept: "application/json",
      ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
    };
    const send = url.protocol === "http:" ? plainRequest : request;
    const { status, text, headers } = await new Promise<{
      status: number;
      text: string;
      headers: Record<string, string>;
    }>((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(
              new Error(`${method} ${url.pathname}: answer larger than ${MAX_RESPONSE_BYTES} bytes`),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString("utf8"),
            headers: Object.fromEntries(
              Object.entries(res.headers).map(([key, value]) => [key, String(value ?? "")]),
            ),
          }),
        );
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: kept as text for the error below.
    }
    if (status < 200 || status > 299) {
      const message = (parsed as { message?: unknown } | undefined)?.message;
      throw new ApiException(
        status,
        `${method} ${url.pathname}: HTTP ${status}${typeof message === "string" ? `: ${message}` : ""}`,
        parsed,
        headers,
      );
    }
    return parsed as T;
  }
}

const segment = encodeURIComponent;

/** The path of a Deployment, or of the Deployments of a namespace when `name` is omitted. */
export function deploymentPath(namespace: string, name?: string): string {
  const base = `/apis/apps/v1/namespaces/${segment(namespace)}/deployments`;
  return name === undefined ? base : `${base}/${segment(name)}`;
}
