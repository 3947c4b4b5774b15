import { isIP } from "node:net";
import { parseDuration } from "./contract/duration.js";
import type { RouterChoice } from "./routers/factory.js";

/** Start-up configuration, parsed once from the command line; nothing else reads process.env. */

export interface HostPort {
  host: string;
  port: number;
}

export class ConfigError extends Error {}

/** "HOST:PORT", "[::1]:8443" or ":8443" (all interfaces). */
export function parseHostPort(text: string, flag: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65_535) {
    throw new ConfigError(`${flag} "${text}" is not HOST:PORT (e.g. 0.0.0.0:8443, [::1]:8443); port 0-65535`);
  }
  const host = match[1] ?? (match[2] || "0.0.0.0");
  if (match[1] !== undefined && isIP(host) !== 6)
    throw new ConfigError(`${flag} "${text}": "${host}" is not an IPv6 address`);
  return { host, port };
}

export function parseUrl(text: string, flag: string): URL {
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return url;
  } catch {
    // reported below
  }
  throw new ConfigError(`${flag} "${text}" is not an http(s) URL`);
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(text: string, flag: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  throw new ConfigError(`${flag} "${text}" is not one of ${LOG_LEVELS.join(", ")}`);
}

/** Serving certificate names: the listen host when it is a concrete address, plus localhost. */
export function defaultCertNames(listen: HostPort, extra: readonly string[]): string[] {
  const names = new Set<string>(extra);
  names.add("localhost");
  names.add("127.0.0.1");
  if (listen.host !== "0.0.0.0" && listen.host !== "::") names.add(listen.host);
  return [...names];
}

const ROUTER_FLAGS: Record<string, RouterChoice> = {
  auto: { kind: "auto" },
  smi: { kind: "smi" },
  "smi/v1alpha1": { kind: "smi", version: "v1alpha1" },
  "smi/v1alpha2": { kind: "smi", version: "v1alpha2" },
  "smi/v1alpha3": { kind: "smi", version: "v1alpha3" },
  "smi/v1alpha4": { kind: "smi", version: "v1alpha4" },
  httproute: { kind: "httproute" },
  "httproute/gateway.networking.k8s.io": { kind: "httproute", group: "gateway.networking.k8s.io" },
  "httproute/policy.linkerd.io": { kind: "httproute", group: "policy.linkerd.io" },
};

/** What `--router` accepts. */
export const ROUTER_FLAG_NAMES: readonly string[] = Object.keys(ROUTER_FLAGS);

export function parseRouter(text: string, flag: string): RouterChoice {
  const choice = ROUTER_FLAGS[text];
  if (!choice)
    throw new ConfigError(`${flag} "${text}" is not one of ${Object.keys(ROUTER_FLAGS).join(", ")}`);
  return choice;
}

/** A duration flag: Go-style ("15s", "1m"). */
export function parseDurationFlag(parse: (text: string) => number | undefined) {
  return (text: string, flag: string): number => {
    const ms = parse(text);
    if (ms === undefined || ms <= 0)
      throw new ConfigError(`${flag} "${text}" is not a positive duration such as 15s or 1m`);
    return ms;
  };
}

/** Prometheus' scrape interval of the proxies: what each check's window adds to the analysis interval. */
export function parseScrapeInterval(text: string, flag: string): number {
  const ms = parseDurationFlag(parseDuration)(text, flag);
  if (ms > MAX_SCRAPE_INTERVAL_MS) throw new ConfigError(`${flag} "${text}" is longer than 1h`);
  return ms;
}

const MAX_SCRAPE_INTERVAL_MS = 3_600_000;

export function parsePositiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new ConfigError(`${flag} "${text}" is not a whole number ≥ 1`);
  return Number(text);
}

/** `--metric-template NAME=PROMQL`: a named check users may reference in serin.dev/analysis. */
export function parseMetricTemplate(text: string, flag: string): [string, string] {
  const match = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)=(.+)$/s.exec(text);
  if (!match)
    throw new ConfigError(`${flag} "${text}" is not NAME=PROMQL (NAME: lowercase letters, digits, "-")`);
  if (match[1] === "success-rate" || match[1] === "latency-p99") {
    throw new ConfigError(`${flag} "${match[1]}" is built in; choose another name`);
  }
  return [match[1] as string, match[2] as string];
}

/** Deployments the watcher reconciles at once by default; sized for a fleet of a thousand (BENCHMARKS.md). */
export const DEFAULT_WORKERS = 16;

/** A namespace name as Kubernetes allows it (an RFC 1123 label). */
export function parseNamespaceName(text: string, flag: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text))
    throw new ConfigError(
      `${flag} "${text}" is not a namespace name (lowercase letters, digits, "-", at most 63)`,
    );
  return text;
}
