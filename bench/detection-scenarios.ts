import type { Behaviour } from "../src/localcluster/proxy-counters.js";

/**
 * What the detection benchmark runs: how each version behaves in each scenario, the steps of each
 * phase, and the settings of each arm. Plain data.
 */

/** A healthy service as the model serves it: some noise in errors and a long-ish latency tail. */
export const HEALTHY: Behaviour = { successRatio: 0.998, latency: { medianMs: 20, p99Ms: 120 } };

/** The checks every canary runs (the only annotation besides the steps that the defaults lack). */
export const ANALYSIS = "success-rate>=99,latency-p99<=500ms";
/** A response slower than the latency check's threshold is a bad request for the blast radius. */
export const SLOW_MS = 500;

export interface Scenario {
  id: string;
  title: string;
  /** How the canary answers from its first request on (the stable version is HEALTHY). */
  canary: Behaviour;
  /** Whether the canary should be rolled back (otherwise a rollback is a false abort). */
  bad: boolean;
  /** Canaries of it per phase and arm: the arm's count for bad ones, or for healthy ones. */
  count?: "bad" | "healthy";
  /** What makes a request bad in this scenario (for the first bad request and the blast radius). */
  badBy: "failure" | "slow";
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "fail100",
    title: "fails 100%",
    canary: { ...HEALTHY, successRatio: 0 },
    bad: true,
    badBy: "failure",
  },
  {
    id: "fail20",
    title: "fails 20%",
    canary: { ...HEALTHY, successRatio: 0.8 },
    bad: true,
    badBy: "failure",
  },
  { id: "fail2", title: "fails 2%", canary: { ...HEALTHY, successRatio: 0.98 }, bad: true, badBy: "failure" },
  {
    id: "p99x10",
    title: "p99 latency 10x",
    canary: { ...HEALTHY, latency: { medianMs: 20, p99Ms: 1_200 } },
    bad: true,
    badBy: "slow",
  },
  { id: "healthy", title: "healthy (noise only)", canary: HEALTHY, bad: false, badBy: "failure" },
  {
    id: "within",
    title: "0.9% errors (within success-rate>=99)",
    canary: { ...HEALTHY, successRatio: 0.991 },
    bad: false,
    badBy: "failure",
    count: "bad",
  },
];

/** A set of steps the canaries of one phase share. */
export interface Phase {
  id: string;
  title: string;
  /** serin's steps (`serin.dev/steps`); another controller runs the nearest it supports. */
  steps: string;
  /** Each controller runs its own default steps here (serin's are `steps`). */
  defaults?: boolean;
  /** Only the first N steps are run (quick runs): `steps` is cut to them, another controller's too. */
  stepLimit?: number;
}

export const PHASES: readonly Phase[] = [
  { id: "s10", title: "default steps (first 10%)", steps: "10,25,50,75", defaults: true },
  { id: "s1", title: "first step 1%", steps: "1,10,25,50,75" },
  { id: "s01", title: "first step 0.1%", steps: "0.1,10,25,50,75" },
];

/** Annotations an arm sets beyond the steps and ANALYSIS (none: serin's defaults). */
export interface ArmSettings {
  id: string;
  title: string;
  annotations: Record<string, string>;
}
