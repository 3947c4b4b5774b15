// One plain GET over HTTP or HTTPS, for readiness probes and raw apiserver reads.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface RawResponse {
  status: number;
  body: string;
}

export interface ClientTls {
  /** PEM of the CA to trust. */
  ca: string;
  /** PEM client certificate and key, when the server wants one. */
  cert?: string;
  key?: string;
}

export function httpGet(
  url: string,
  tls?: ClientTls,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const req = send(url, { method: "GET", timeout: 10_000, headers, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
