import type { Logger } from "pino";
import { runChecks } from "../analysis/checks.js";
import type { PrometheusClient } from "../analysis/prometheus.js";
import { analysisWindowMs, type MetricTemplates } from "../analysis/queries.js";
import { runTestGates, type TestGatePayload } from "../analysis/test-gates.js";
import type { MetricCheck } from "../contract/analysis.js";
import type { TestUrlPolicy } from "../contract/test-urls.js";
import type { GateTicket } from "../plan/actions.js";
import type { GateOutcome, GateVerdict } from "../plan/gates.js";

/** What the watcher needs to judge a step: Prometheus for the checks, and the test-gate allowlist. */
export interface GateRunners {
  prometheus: PrometheusClient;
  templates: MetricTemplates;
  /** How often Prometheus scrapes the proxies (see analysisWindowMs). */
  scrapeIntervalMs: number;
  testUrlPolicy: TestUrlPolicy;
}

type Kind = "checks" | "tests";

/** At most this many gate jobs run at once across all canaries; more wait their turn. */
export const MAX_RUNNING_JOBS = 256;

/** How long a slot kept for the next canary in line waits for it to start its job before it lapses. */
const RESERVATION_MS = 30_000;

/**
 * Metric checks and test gates run in the background, never inside a reconcile: a Prometheus or a gate
 * that answers only after 10 s holds no worker, and so delays no other Deployment's abort. A finished
 * job leaves its outcome here and asks for its Deployment to be reconciled; the planner takes it from
 * there (it belongs to one step: a late answer for an earlier step counts for nothing).
 *
 * When every slot is taken, canaries wait in line, first come first served: a freed slot is kept for
 * the first in line and its Deployment is reconciled at once to take it, so no canary is passed over
 * round after round by others whose polls happen to come due just as a slot frees.
 */
export class GateJobs {
  private readonly outcomes = new Map<string, Partial<Record<Kind, GateOutcome>>>();
  private readonly running = new Map<string, Set<Kind>>();
  private total = 0;
  /** Canaries waiting for a slot, in the order they first asked (a Set keeps insertion order). */
  private readonly waiting = new Set<string>();
  /** Slots kept for the first in line, until they start their job or the reservation lapses. */
  private readonly reserved = new Map<string, number>();

  /** `onReady(key)`: reconcile `key`, whose job finished or whose turn for a slot has come. */
  constructor(
    private readonly runners: GateRunners,
    private readonly onReady: (key: string) => void,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
    private readonly maxRunning = MAX_RUNNING_JOBS,
  ) {}

  /** The last outcomes of `key`'s jobs and which are still running. */
  observe(key: string): {
    checks?: GateOutcome;
    tests?: GateOutcome;
    running: { checks: boolean; tests: boolean };
  } {
    const running = this.running.get(key);
    return {
      ...this.outcomes.get(key),
      running: { checks: running?.has("checks") ?? false, tests: running?.has("tests") ?? false },
    };
  }

  startChecks(
    key: string,
    checks: readonly MetricCheck[],
    ticket: GateTicket,
    scope: { namespace: string; deployment: string; service: string; analysisIntervalMs: number },
  ): void {
    const windowMs = analysisWindowMs(scope.analysisIntervalMs, this.runners.scrapeIntervalMs);
    this.start(key, "checks", ticket, () =>
      runChecks(checks, { ...scope, windowMs }, this.runners.prometheus, this.runners.templates),
    );
  }

  startTests(key: string, urls: readonly string[], ticket: GateTicket, payload: TestGatePayload): void {
    this.start(key, "tests", ticket, () => runTestGates(urls, payload, this.runners.testUrlPolicy));
  }

  /** The Deployment is gone or opted out: its outcomes and its place in line go (running jobs finish unheard). */
  forget(key: string): void {
    this.outcomes.delete(key);
    this.waiting.delete(key);
    if (this.reserved.delete(key)) this.callNext();
  }

  /** How many canaries wait for a slot. */
  get queued(): number {
    return this.waiting.size;
  }

  private start(key: string, kind: Kind, ticket: GateTicket, job: () => Promise<GateVerdict>): void {
    const running = this.running.get(key) ?? new Set<Kind>();
    if (running.has(kind)) return;
    this.callNext();
    if (!this.reserved.delete(key)) {
      // A slot is free only when it is not kept for someone earlier in line.
      if (this.total + this.reserved.size >= this.maxRunning || (this.waiting.size > 0 && !this.first(key))) {
        this.waiting.add(key);
        return;
      }
    }
    this.waiting.delete(key);
    running.add(kind);
    this.running.set(key, running);
    this.total += 1;
    // Dated when it started: the next check is due one interval after this one began, so the time a
    // query takes (seconds, with Prometheus under load) does not stretch every interval of the step.
    const startedAt = this.clock().toISOString();
    void job()
      .catch((error: unknown): GateVerdict => ({ result: "fail", reason: (error as Error).message }))
      .then((verdict) => {
        this.outcomes.set(key, {
          ...this.outcomes.get(key),
          [kind]: { verdict, ticket, at: startedAt },
        });
        this.logger.debug({ deployment: key, kind, verdict }, "gate job finished");
      })
      .finally(() => {
        running.delete(kind);
        if (running.size === 0) this.running.delete(key);
        this.total -= 1;
        this.onReady(key);
        this.callNext();
      });
  }

  private first(key: string): boolean {
    for (const waiting of this.waiting) return waiting === key;
    return false;
  }

  /** Keeps each free slot for the next canary in line and has it reconciled to take it. */
  private callNext(): void {
    this.lapseReservations();
    while (this.waiting.size > 0 && this.total + this.reserved.size < this.maxRunning) {
      const [next] = this.waiting;
      if (next === undefined) return;
      this.waiting.delete(next);
      this.reserved.set(next, this.clock().getTime() + RESERVATION_MS);
      this.onReady(next);
    }
  }

  /** A kept slot its canary did not take in time (it moved on, or needs no job now) is freed again. */
  private lapseReservations(): void {
    const now = this.clock().getTime();
    for (const [key, until] of this.reserved) if (until <= now) this.reserved.delete(key);
  }
}
