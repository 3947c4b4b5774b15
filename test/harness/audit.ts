// Reading the apiserver's audit log: who made which request, to count the requests serin causes.
import { readFile } from "node:fs/promises";

export interface AuditedRequest {
  user: string;
  verb: string;
  /** resource, or resource/subresource */
  resource: string;
  namespace: string;
  name: string;
  /** Milliseconds since the epoch, when the apiserver received the request. */
  at: number;
}

interface AuditEvent {
  stage?: string;
  requestURI?: string;
  verb?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  requestReceivedTimestamp?: string;
}

/** The completed requests of an audit log (JSON lines), oldest first. */
export async function readAuditLog(file: string): Promise<AuditedRequest[]> {
  const text = await readFile(file, "utf8");
  const requests: AuditedRequest[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (event.stage !== "ResponseComplete") continue;
    const ref = event.objectRef ?? {};
    requests.push({
      user: event.user?.username ?? "",
      verb: event.verb ?? "",
      resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : (ref.resource ?? ""),
      namespace: ref.namespace ?? "",
      name: ref.name ?? "",
      at: Date.parse(event.requestReceivedTimestamp ?? ""),
    });
  }
  return requests;
}

export const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Counts of requests by "user verb resource name", most first. */
export function countRequests(requests: readonly AuditedRequest[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const request of requests) {
    const key = `${request.user} ${request.verb} ${request.resource} ${request.name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * The lists and watches a user started, as request URIs (a watch stays open, so its start is what the
 * log has), one per request.
 */
export async function readListsAndWatches(
  file: string,
  user: string,
): Promise<{ verb: string; uri: string }[]> {
  const text = await readFile(file, "utf8");
  const seen = new Map<string, { verb: string; uri: string }>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    const event = JSON.parse(line) as AuditEvent & { auditID?: string };
    if (event.user?.username !== user || (event.verb !== "list" && event.verb !== "watch")) continue;
    seen.set(event.auditID ?? line, { verb: event.verb, uri: event.requestURI ?? "" });
  }
  return [...seen.values()];
}
