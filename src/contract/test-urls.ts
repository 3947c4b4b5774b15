import { isIP } from "node:net";
import { itemPrefix } from "./quote.js";
import type { Parsed } from "./steps.js";

/**
 * Which hosts test gates may call. A test URL is written by whoever may edit the Deployment, and serin
 * POSTs to it from inside the cluster: by default only Services of that Deployment's own namespace,
 * named the way cluster DNS names them. Platform teams add hosts with `--test-host`.
 */
export interface TestUrlPolicy {
  /** What is allowed, for messages. */
  describe: string;
  /** Hosts the platform team added: exact names or addresses, "*.suffix", or "*" (any name). */
  extraHosts: readonly string[];
}

const OWN_NAMESPACE =
  "a Service of the Deployment's own namespace (NAME or NAME.NAMESPACE.svc[.cluster.local])";

export const clusterLocalOnly: TestUrlPolicy = { describe: OWN_NAMESPACE, extraHosts: [] };

/**
 * The default widened by the controller's allowlist. "*" and "*.suffix" match names only: an IP
 * address or localhost is allowed only when listed exactly, as a deliberate choice.
 */
export function allowlistPolicy(patterns: readonly string[]): TestUrlPolicy {
  if (patterns.length === 0) return clusterLocalOnly;
  return {
    describe: `${OWN_NAMESPACE} or a host the controller allows (${patterns.join(", ")})`,
    extraHosts: patterns.map((pattern) => unbracketed(pattern.toLowerCase())),
  };
}

/** Whether the platform team listed this very host (not through a wildcard). */
export function listedExactly(policy: TestUrlPolicy, hostname: string): boolean {
  return policy.extraHosts.includes(unbracketed(hostname.toLowerCase()));
}

function unbracketed(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

const SERVICE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_HOST =
  /^([a-z]([-a-z0-9]{0,61}[a-z0-9])?)\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.svc(\.cluster\.local)?$/;
const AUTHORITY = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i;

function matchesPattern(hostname: string, pattern: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) return hostname.endsWith(pattern.slice(1));
  return hostname === pattern;
}

/** The host as the user typed it, lowercased, without port: what WHATWG URL parsing must not change. */
function hostAsWritten(authority: string): string {
  const host = authority.startsWith("[")
    ? authority.slice(0, authority.indexOf("]") + 1)
    : authority.replace(/:[^:]*$/, "");
  return host.toLowerCase();
}

/**
 * Checked before parsing: URL parsing maps full-width and other Unicode hosts onto ASCII ones
 * (`ａｂｃ.com` is abc.com), and drops tabs and newlines inside a host.
 */
function charactersProblem(text: string): string | undefined {
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    if (code > 0x7f) return "has characters other than ASCII";
    if (code <= 0x20 || code === 0x7f) return "is not a URL: it has blanks or control characters";
  }
  return undefined;
}

/**
 * Checks one test URL for a Deployment in `namespace` and gives the URL a gate calls: a bare Service
 * name becomes NAME.NAMESPACE.svc, so that it never reaches a host of that name elsewhere (`metadata`,
 * a search domain). Without a namespace, bare names stay as written and any namespace's `.svc` host
 * passes: the gate call checks again with the namespace it knows.
 * Problems read after "which " (`is not a URL`).
 */
export function checkTestUrl(text: string, policy: TestUrlPolicy, namespace?: string): Parsed<string> {
  const refuse = (problem: string): Parsed<string> => ({ ok: false, problem });
  const characters = charactersProblem(text);
  if (characters) return refuse(characters);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse("is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return refuse("is not http(s)");
  const authority = AUTHORITY.exec(text)?.[1];
  if (authority === undefined) return refuse("is not a URL of the form http(s)://HOST/PATH");
  if (authority.includes("@") || url.username !== "" || url.password !== "")
    return refuse("has user info before its host (USER@HOST)");
  const hostname = url.hostname;
  if (hostAsWritten(authority) !== hostname) {
    return refuse(`has a host that reads as "${hostname}" once parsed; write the host plainly`);
  }
  if (hostname.endsWith(".")) return refuse("has a host that ends in a dot");
  if (isIP(unbracketed(hostname)) !== 0) {
    return listedExactly(policy, hostname)
      ? { ok: true, value: text }
      : refuse("has an IP address for a host; name a Service instead");
  }
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    return listedExactly(policy, hostname) ? { ok: true, value: text } : refuse("has localhost for a host");
  }
  const service = SERVICE_HOST.exec(hostname);
  const apiServer =
    hostname === "kubernetes"
      ? namespace === "default"
      : service?.[1] === "kubernetes" && service[3] === "default";
  if (apiServer) return refuse("names the Kubernetes API server");
  if (SERVICE.test(hostname)) {
    if (namespace === undefined) return { ok: true, value: text };
    url.hostname = `${hostname}.${namespace}.svc`;
    return { ok: true, value: url.href };
  }
  if (service && (namespace === undefined || service[3] === namespace)) return { ok: true, value: text };
  if (policy.extraHosts.some((pattern) => matchesPattern(hostname, pattern)))
    return { ok: true, value: text };
  return refuse(`has a host that is not ${policy.describe}`);
}

/** `serin.dev/tests`: comma-separated URLs, each checked; the URLs a gate calls. */
export function parseTestUrls(text: string, policy: TestUrlPolicy, namespace?: string): Parsed<string[]> {
  const urls: string[] = [];
  for (const item of text.split(",").map((part) => part.trim())) {
    if (item === "") return { ok: false, problem: "has an empty URL" };
    const checked = checkTestUrl(item, policy, namespace);
    if (!checked.ok) return { ok: false, problem: `${itemPrefix(item, text)}${checked.problem}` };
    urls.push(checked.value);
  }
  return { ok: true, value: urls };
}
