import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { shorten } from "../contract/quote.js";
import { checkTestUrl, listedExactly, type TestUrlPolicy } from "../contract/test-urls.js";
import type { GateVerdict } from "../plan/decide.js";
import { timeoutAfterArrivals } from "./timeout.js";

/** What every integration-test gate receives, as DESIGN.md fixes it. */
export interface TestGatePayload {
  deployment: string;
  namespace: string;
  revision: string;
  step: number;
  weight: number;
  canaryService: string;
}

const TEST_GATE_TIMEOUT_MS = 10_000;
/** A gate's answer is read up to this size, then the connection is dropped: only the status counts. */
const TEST_GATE_BODY_MAX_BYTES = 64 * 1024;

/** Resolves a host name to every address it has, as `dns.lookup` with `all: true` does. */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

export interface TestGateOptions {
  timeoutMs?: number;
  /** Name resolution; the system resolver by default (tests give their own). */
  resolve?: Resolve;
}

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    ),
  );

function blockList(ipv4: string[], ipv6: string[]): BlockList {
  const list = new BlockList();
  for (const subnet of ipv4) {
    const [network = "", prefix] = subnet.split("/");
    list.addSubnet(network, Number(prefix ?? 32), "ipv4");
  }
  for (const subnet of ipv6) {
    const [network = "", prefix] = subnet.split("/");
    list.addSubnet(network, Number(prefix ?? 128), "ipv6");
  }
  return list;
}

// Checked in this order: the first that matches names the refusal. BlockList also matches the
// IPv4-mapped IPv6 form (::ffff:127.0.0.1) of each IPv4 subnet.
const REFUSED: { kind: string; list: BlockList }[] = [
  {
    kind: "cloud metadata",
    list: blockList(["169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32"], ["fd00:ec2::254/128"]),
  },
  { kind: "loopback", list: blockList(["127.0.0.0/8"], ["::1/128"]) },
  { kind: "unspecified", list: blockList(["0.0.0.0/8"], ["::/128"]) },
  { kind: "link-local", list: blockList(["169.254.0.0/16"], ["fe80::/10"]) },
];

/** Why a gate may not connect to this address, or undefined. */
export function refusedAddressKind(address: string): string | undefined {
  const plain = address.replace(/%.*$/, "");
  const family = isIP(plain);
  if (family === 0) return "unparseable";
  const type = family === 4 ? "ipv4" : "ipv6";
  return REFUSED.find(({ list }) => list.check(plain, type))?.kind;
}

/**
 * The address a gate connects to is the address checked here: the connection takes it from this
 * lookup, never from a second resolution that could answer differently. A host the platform team
 * listed exactly may resolve to loopback or link-local (a gate on the node, in a test); cloud
 * metadata is refused whatever the list says.
 */
function checkedLookup(resolve: Resolve, trusted: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const family =
          options.family === 4 || options.family === "IPv4"
            ? 4
            : options.family === 6 || options.family === "IPv6"
              ? 6
              : 0;
        const addresses = found.filter((entry) => family === 0 || entry.family === family);
        for (const { address } of addresses) {
          const kind = refusedAddressKind(address);
          if (kind && (kind === "cloud metadata" || !trusted)) {
            callback(new Error(`${hostname} resolves to ${address}, a ${kind} address`), "", 4);
            return;
          }
        }
        const first = addresses[0];
        if (!first) callback(new Error(`${hostname} has no address`), "", 4);
        else if (options.all) (callback as (error: null, all: LookupAddress[]) => void)(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error, "", 4),
    );
  };
}

/** One POST; the failure to report, or undefined when the gate answered 2xx. */
function callGate(target: URL, body: string, trusted: boolean, options: Required<TestGateOptions>) {
  return new Promise<string | undefined>((settle) => {
    const literal = target.hostname.replace(/^\[|\]$/g, "");
    // An IP literal is connected to without any lookup, so it is checked here.
    const literalKind = isIP(literal) ? refusedAddressKind(literal) : undefined;
    if (literalKind && (literalKind === "cloud metadata" || !trusted)) {
      settle(`is a ${literalKind} address`);
      return;
    }
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(target, {
      method: "POST",
      agent: false,
      lookup: checkedLookup(options.resolve, trusted),
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    let settled = false;
    const done = (failure: string | undefined) => {
      if (settled) return;
      settled = true;
      timeout.clear();
      request.destroy();
      settle(failure);
    };
    const timeout = timeoutAfterArrivals(options.timeoutMs, () =>
      done(`did not answer within ${options.timeoutMs / 1000}s`),
    );
    request.on("error", (error) => done(`could not be called: ${error.message}`));
    request.on("response", (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      let read = 0;
      const finish = () => {
        if (status >= 300 && status < 400) {
          const location = shorten(String(response.headers.location ?? "(none)"), 200);
          done(`answered ${status} with Location ${location}; redirects are not followed`);
        } else done(status >= 200 && status < 300 ? undefined : `answered ${status}`);
      };
      response.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read >= TEST_GATE_BODY_MAX_BYTES) finish();
      });
      response.on("end", finish);
      response.on("error", finish);
    });
    request.end(body);
  });
}

/**
 * POSTs the payload to every gate at once; each must answer 2xx within the timeout. Every URL is
 * checked again against the allowlist with the Deployment's namespace: the allowlist may have changed
 * since the annotation was admitted.
 */
export async function runTestGates(
  urls: readonly string[],
  payload: TestGatePayload,
  policy: TestUrlPolicy,
  options: TestGateOptions = {},
): Promise<GateVerdict> {
  const settings = { timeoutMs: TEST_GATE_TIMEOUT_MS, resolve: systemResolve, ...options };
  const body = JSON.stringify(payload);
  const failures = await Promise.all(
    urls.map(async (url): Promise<string | undefined> => {
      const checked = checkTestUrl(url, policy, payload.namespace);
      if (!checked.ok) return `${shorten(url)} ${checked.problem}`;
      const target = new URL(checked.value);
      const failure = await callGate(target, body, listedExactly(policy, target.hostname), settings);
      return failure === undefined ? undefined : `${checked.value} ${failure}`;
    }),
  );
  const failed = failures.filter((failure): failure is string => failure !== undefined);
  return failed.length > 0
    ? { result: "fail", reason: `test gate failed: ${failed.join("; ")}` }
    : { result: "pass" };
}
