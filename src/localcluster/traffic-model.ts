import { createHash } from "node:crypto";
import { WEIGHT_SCALE } from "../contract/keys.js";
import type { Weights } from "../routers/router.js";
import {
  type Behaviour,
  checkBehaviour,
  expositionLines,
  type PodIdentity,
  type ProxyCounters,
  serve,
  TYPE_LINES,
} from "./proxy-counters.js";
import type { Draws } from "./sampling.js";

/**
 * A model of the traffic a mesh would carry, for the demo, the tests and the benchmarks. No proxy and
 * no client run here: an app has a fixed request rate to its apex Service, divided between the stable
 * and the canary Deployment by the weights its traffic split holds now; each version answers with its
 * own success ratio and latency; and every request is counted as Linkerd's inbound proxy of that pod
 * would count it. Pure: the clock comes in as `now` (ms), the randomness as Draws.
 */

/** One version of an app: the Deployment whose pods answer, the split's backend that leads to it. */
export interface VersionSpec {
  deployment: string;
  /** The backend Service named in the split (e.g. `web-stable`). */
  backend: string;
  behaviour: Behaviour;
}

export interface RoutedApp {
  namespace: string;
  /** The apex Service clients call; the split (TrafficSplit or HTTPRoute) carries its name. */
  service: string;
  requestsPerSecond: number;
  stable: VersionSpec;
  canary: VersionSpec;
  /** A response slower than this counts as a slow request in the history (default: none does). */
  slowMs?: number;
}

/** What one version has served so far, and when its first requests of each kind arrived (ms). */
export interface VersionTotals {
  requests: number;
  failures: number;
  slow: number;
  firstRequestAt?: number;
  firstFailureAt?: number;
  firstSlowAt?: number;
}

type Counts = Pick<VersionTotals, "requests" | "failures" | "slow">;

/** A change of the weights in force, with what each version had served until then. */
export interface WeightChange {
  at: number;
  weights: Weights;
  stable: Counts;
  canary: Counts;
}

export interface AppHistory {
  changes: WeightChange[];
  stable: VersionTotals;
  canary: VersionTotals;
}

/** Requests a second each version gets from `requestsPerSecond` under `weights` (out of WEIGHT_SCALE). */
export function splitRate(requestsPerSecond: number, weights: Weights): { stable: number; canary: number } {
  if (!(requestsPerSecond >= 0 && Number.isFinite(requestsPerSecond)))
    throw new RangeError(`requestsPerSecond must be a finite number >= 0, got ${requestsPerSecond}`);
  const total = weights.stable + weights.canary;
  if (!(weights.stable >= 0 && weights.canary >= 0))
    throw new RangeError(`weights must not be negative, got ${weights.stable} and ${weights.canary}`);
  // No weight at all (no split yet): the apex Service's traffic stays on the stable version.
  if (total === 0) return { stable: requestsPerSecond, canary: 0 };
  const canary = (requestsPerSecond * weights.canary) / total;
  return { stable: requestsPerSecond - canary, canary };
}

/** The pod the model stands in for: a stable, made-up identity per Deployment (no pod is read). */
export function modelledPod(namespace: string, deployment: string, port = 8080): PodIdentity {
  const digest = createHash("sha256").update(`${namespace}/${deployment}`).digest();
  // The alphabet Kubernetes uses for generated names (no vowels, no look-alikes).
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const hash = [...digest.subarray(0, 10)].map((byte) => alphabet[byte % alphabet.length]).join("");
  return {
    namespace,
    deployment,
    pod: `${deployment}-${hash}-model`,
    podTemplateHash: hash,
    serviceAccount: "default",
    podIp: `10.244.${digest[10] ?? 0}.${((digest[11] ?? 0) % 254) + 1}`,
    port,
  };
}

interface VersionState {
  pod: PodIdentity;
  counters: ProxyCounters;
  draws: Draws;
  behaviour: Behaviour;
  slowMs: number;
  /** Requests a second it gets now. */
  rate: number;
  /** The time its counters are brought up to. */
  since: number;
  totals: VersionTotals;
}

interface AppState {
  app: RoutedApp;
  weights: Weights;
  stable: VersionState;
  canary: VersionState;
  changes: WeightChange[];
}

const STABLE_ONLY: Weights = { stable: WEIGHT_SCALE, canary: 0 };
const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class TrafficModel {
  private readonly apps = new Map<string, AppState>();
  /** Every version with counters, routed or direct, by namespace/deployment. */
  private readonly versions = new Map<string, VersionState>();

  /** `drawsFor` gives each version (by namespace/deployment) its own source of draws. */
  constructor(private readonly drawsFor: (version: string) => Draws) {}

  /** An app whose traffic follows its split; until the split is seen, all of it goes to stable. */
  addApp(app: RoutedApp, now: number): void {
    if (!(app.requestsPerSecond >= 0 && Number.isFinite(app.requestsPerSecond)))
      throw new RangeError(`requestsPerSecond must be a finite number >= 0, got ${app.requestsPerSecond}`);
    const appKey = key(app.namespace, app.service);
    if (this.apps.has(appKey)) throw new Error(`app ${appKey} is modelled already`);
    const slowMs = app.slowMs ?? Number.POSITIVE_INFINITY;
    const state: AppState = {
      app,
      weights: { ...STABLE_ONLY },
      stable: this.version(app.namespace, app.stable.deployment, app.stable.behaviour, slowMs, now),
      canary: this.version(app.namespace, app.canary.deployment, app.canary.behaviour, slowMs, now),
      changes: [],
    };
    this.apps.set(appKey, state);
    this.route(state, STABLE_ONLY, now);
  }

  /** Whether `namespace/service` is a modelled app (the route watch asks before reading a split). */
  app(namespace: string, service: string): RoutedApp | undefined {
    return this.apps.get(key(namespace, service))?.app;
  }

  /** The split of `namespace/service` now holds `weights` (undefined: the split is gone). */
  setWeights(namespace: string, service: string, weights: Weights | undefined, now: number): void {
    const state = this.apps.get(key(namespace, service));
    if (!state) return;
    const next = weights ?? STABLE_ONLY;
    if (next.stable === state.weights.stable && next.canary === state.weights.canary) return;
    this.route(state, next, now);
  }

  /** A version starts answering differently from `now` on. */
  setBehaviour(namespace: string, deployment: string, behaviour: Behaviour, now: number): void {
    checkBehaviour(behaviour);
    const version = this.versions.get(key(namespace, deployment));
    if (!version) throw new Error(`deployment ${key(namespace, deployment)} is not modelled`);
    this.advanceVersion(version, now);
    version.behaviour = behaviour;
  }

  /** A Deployment served at a fixed rate of its own, outside any app (what tests of one check want). */
  setDirect(
    namespace: string,
    deployment: string,
    requestsPerSecond: number,
    behaviour: Behaviour,
    now: number,
  ) {
    checkBehaviour(behaviour);
    if (!(requestsPerSecond >= 0 && Number.isFinite(requestsPerSecond)))
      throw new RangeError(`requestsPerSecond must be a finite number >= 0, got ${requestsPerSecond}`);
    const existing = this.versions.get(key(namespace, deployment));
    const version = existing ?? this.version(namespace, deployment, behaviour, Number.POSITIVE_INFINITY, now);
    this.advanceVersion(version, now);
    version.behaviour = behaviour;
    version.rate = requestsPerSecond;
  }

  /** Stops modelling an app: its series go, as a deleted pod's do. */
  removeApp(namespace: string, service: string): void {
    const state = this.apps.get(key(namespace, service));
    if (!state) return;
    this.apps.delete(key(namespace, service));
    this.versions.delete(key(namespace, state.app.stable.deployment));
    this.versions.delete(key(namespace, state.app.canary.deployment));
  }

  history(namespace: string, service: string, now: number): AppHistory | undefined {
    const state = this.apps.get(key(namespace, service));
    if (!state) return undefined;
    this.advanceVersion(state.stable, now);
    this.advanceVersion(state.canary, now);
    return {
      changes: [...state.changes],
      stable: { ...state.stable.totals },
      canary: { ...state.canary.totals },
    };
  }

  /** Every modelled pod. */
  pods(): PodIdentity[] {
    return [...this.versions.values()].map(({ pod }) => ({ ...pod }));
  }

  /** One pod's counters brought up to `now`, as a scrape of its proxy would read them (undefined: none). */
  podExposition(namespace: string, deployment: string, now: number): string | undefined {
    const version = this.versions.get(key(namespace, deployment));
    if (!version) return undefined;
    this.advanceVersion(version, now);
    return [...TYPE_LINES, ...expositionLines(version.counters, version.pod), ""].join("\n");
  }

  /** Every counter brought up to `now`, as a scrape of all the modelled proxies would read them. */
  exposition(now: number): string {
    return [...this.expositionParts(now)].join("");
  }

  /**
   * The same text in parts, one per modelled pod (the first with the TYPE lines), each brought up to
   * `now()` as it is reached: a server can send them one by one and let other work in between.
   */
  *expositionParts(now: number | (() => number)): Generator<string> {
    const clock = typeof now === "number" ? () => now : now;
    yield `${TYPE_LINES.join("\n")}\n`;
    for (const version of [...this.versions.values()]) {
      this.advanceVersion(version, clock());
      const lines = expositionLines(version.counters, version.pod);
      if (lines.length > 0) yield `${lines.join("\n")}\n`;
    }
  }

  private version(
    namespace: string,
    deployment: string,
    behaviour: Behaviour,
    slowMs: number,
    now: number,
  ): VersionState {
    checkBehaviour(behaviour);
    const versionKey = key(namespace, deployment);
    if (this.versions.has(versionKey)) throw new Error(`deployment ${versionKey} is modelled already`);
    const state: VersionState = {
      pod: modelledPod(namespace, deployment),
      counters: { requests: 0 },
      draws: this.drawsFor(versionKey),
      behaviour,
      slowMs,
      rate: 0,
      since: now,
      totals: { requests: 0, failures: 0, slow: 0 },
    };
    this.versions.set(versionKey, state);
    return state;
  }

  private route(state: AppState, weights: Weights, now: number): void {
    this.advanceVersion(state.stable, now);
    this.advanceVersion(state.canary, now);
    const rates = splitRate(state.app.requestsPerSecond, weights);
    state.stable.rate = rates.stable;
    state.canary.rate = rates.canary;
    state.weights = { ...weights };
    const counts = ({ totals }: VersionState): Counts => ({
      requests: totals.requests,
      failures: totals.failures,
      slow: totals.slow,
    });
    state.changes.push({
      at: now,
      weights: { ...weights },
      stable: counts(state.stable),
      canary: counts(state.canary),
    });
  }

  private advanceVersion(version: VersionState, now: number): void {
    const elapsedMs = now - version.since;
    if (!(elapsedMs > 0)) return;
    version.since = now;
    if (version.rate === 0) return;
    const start = now - elapsedMs;
    const requests = version.draws.count((version.rate * elapsedMs) / 1000);
    if (requests === 0) return;
    const served = serve(version.counters, version.behaviour, requests, version.draws, version.slowMs);
    const totals = version.totals;
    const at = (position: number | undefined) =>
      position === undefined ? undefined : start + position * elapsedMs;
    totals.requests += requests;
    totals.failures += served.failures;
    totals.slow += served.slow;
    totals.firstRequestAt ??= at(served.first);
    totals.firstFailureAt ??= at(served.firstFailure);
    totals.firstSlowAt ??= at(served.firstSlow);
  }
}
