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

/** At most this many gate jobs run at once across all canaries; more wait for the next reconcile. */
export const MAX_RUNNING_JOBS = 256;

/**
 * Metric checks and test gates run in the background, never inside a reconcile: a Prometheus or a gate
 * that answers only after 10 s holds no worker, and so delays no other Deployment's abort. A finished
 * job leaves its outcome here and asks for its Deployment to be reconciled; the planner takes it from
 * there (it belongs to one step: a late answer for an earlier step counts for nothing).
 */
export class GateJobs {
  private readonly outcomes = new Map<string, Partial<Record<Kind, GateOutcome>>>();
  private readonly running = new Map<string, Set<Kind>>();
  private total = 0;

  constructor(
    private readonly runners: GateRunners,
    private readonly onFinished: (key: string) => void,
    private readonly logger: Logger,
    private readonly clock: () => Date = () => new Date(),
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

  /** The Deployment is gone or opted out: its outcomes go (running jobs finish unheard). */
  forget(key: string): void {
    this.outcomes.delete(key);
  }

  private start(key: string, kind: Kind, ticket: GateTicket, job: () => Promise<GateVerdict>): void {
    const running = this.running.get(key) ?? new Set<Kind>();
    if (running.has(kind) || this.total >= MAX_RUNNING_JOBS) return;
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
        this.onFinished(key);
      });
  }
}
