// What the comparison needs to know of each controller: how to install and start it, how a service owner
// writes one app for it, how a new version is shipped, where its split's weights and its verdict are
// read, and how its user rolls a canary back. One file per controller implements it.
import type { ControlPlane } from "../../src/localcluster/index.js";
import type { RawJsonClient } from "../../src/watch/raw-json.js";
import type { Gate } from "./gate.js";

export type ContenderId = "serin" | "flagger" | "argo-rollouts";

export interface App {
  namespace: string;
  name: string;
}

export const appKey = (app: App) => `${app.namespace}/${app.name}`;

/** One app's canary plan, the same for every controller. */
export interface AppSpec {
  /** Canary weights in percent, in order. */
  steps: readonly number[];
  /** How long each weight is held before the step's gate is called. */
  stepSeconds: number;
  image: string;
  gate: Gate;
  /**
   * For the rollback trials: the canary stays at its first weight until rolled back (serin: an hour's
   * step; Argo Rollouts: an indefinite pause; Flagger: a confirm-traffic-increase hook that says no).
   */
  holdAtFirstStep?: boolean;
}

/** A write the benchmark sends as admin, through a keep-alive client. */
export interface Write {
  method: "POST" | "PATCH";
  path: string;
  body: unknown;
  contentType?: string;
}

/** What an app's watched object says, for the benchmark's purposes. */
export type AppState = "ready" | "progressing" | "promoted" | "failed" | "other";

export interface RunningController {
  /** The processes that are the controller (serin: webhook and watcher), for CPU and memory. */
  pids(): number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Worker count, or undefined for the controller's own default. */
  concurrency: number | undefined;
  /** Where the controller's log goes. */
  logFile: string;
  /** Further command-line flags for this setting (e.g. a peer's client rate limit). */
  extraArgs: readonly string[];
}

export interface RollbackContext {
  raw: RawJsonClient;
  gate: Gate;
}

export interface Contender {
  readonly id: ContenderId;
  readonly title: string;
  /** The binary's version as the benchmark reports it. */
  readonly version: string;
  /** The flag that sets its worker count, and that count when the flag is not given. */
  readonly concurrency: { flag: string; default: number };
  /** The identity it runs as; the benchmark gives it a FlowSchema of its own. */
  readonly serviceAccount: App;
  /** The command-line settings used, beside the concurrency, as the report states them. */
  readonly settings: string;
  /** CRDs, namespaces and RBAC; the TrafficSplit CRD is installed before. */
  install(cp: ControlPlane): Promise<void>;
  start(cp: ControlPlane, options: StartOptions): Promise<RunningController>;
  /** Objects each app namespace needs once (Argo Rollouts' AnalysisTemplate). */
  namespaceObjects(namespace: string, spec: AppSpec): object[];
  /** The objects of one app, in creation order. */
  appObjects(app: App, spec: AppSpec): object[];
  /** The write that ships `image` to the app. */
  ship(app: App, image: string): Write;
  /** The split's two backends for the app (the split is named after the app in all three). */
  backends(app: App): { stableService: string; canaryService: string };
  /** The objects whose state says whether an app is ready or promoted. */
  readonly stateWatch: { path: string; labelSelector?: string };
  /** An object of `stateWatch` read; `image` is the version shipped last (or undefined before). */
  state(object: unknown, image: string | undefined): AppState;
  /** Starts rolling the app's canary back, the way its users do. */
  triggerRollback(app: App, context: RollbackContext): Promise<void>;
  /** After a rollback, brings the canary back to its first weight; `attempt` numbers a fresh revision. */
  rearm(app: App, attempt: number, context: RollbackContext): Promise<void>;
}
