import type { Parsed } from "./steps.js";

/**
 * Which hosts test gates may call. The default keeps a user's annotation from making the controller
 * POST to arbitrary places: only Service names inside the cluster.
 */
export interface TestUrlPolicy {
  describe: string;
  allows(url: URL): boolean;
}

const SERVICE_HOST =
  /^[a-z]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)?(\.svc(\.cluster\.local)?)?$/;

export const clusterLocalOnly: TestUrlPolicy = {
  describe: "a cluster-local Service host (NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc[.cluster.local])",
  allows: (url) => SERVICE_HOST.test(url.hostname),
};

/** A policy from the controller's allowlist: host names or "*.suffix" patterns; "*" allows any host. */
export function allowlistPolicy(patterns: readonly string[]): TestUrlPolicy {
  if (patterns.length === 0) return clusterLocalOnly;
  const matches = (host: string, pattern: string): boolean =>
    pattern === "*" || (pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) : host === pattern);
  return {
    describe: `a host allowed by the controller (${patterns.join(", ")})`,
    allows: (url) => patterns.some((pattern) => matches(url.hostname, pattern)),
  };
}

export function parseTestUrls(text: string, policy: TestUrlPolicy): Parsed<string[]> {
  const urls: string[] = [];
  for (const item of text.split(",").map((part) => part.trim())) {
    if (item === "") return { ok: false, problem: "has an empty URL" };
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      return { ok: false, problem: `has "${item}", which is not a URL` };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return { ok: false, problem: `has "${item}", which is not http(s)` };
    }
    if (!policy.allows(url))
      return { ok: false, problem: `has "${item}", whose host is not ${policy.describe}` };
    urls.push(item);
  }
  return { ok: true, value: urls };
}
