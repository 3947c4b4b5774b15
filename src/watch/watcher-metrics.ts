import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { PHASES, type Phase } from "../contract/keys.js";
import { ABORT_CAUSES } from "../plan/actions.js";
import { type CanarySample, metricUpdate, type ReconcileRecord } from "./metric-updates.js";

/**
 * The watcher's Prometheus metrics, named after Flagger's (flagger_canary_weight, flagger_canary_status,
 * flagger_canary_total, flagger_info) so that dashboards port over. Per-canary series come from the
 * leader's reconciles only, and go when the Deployment is deleted or opts out, or when this replica
 * stops leading: a standby reports none, so nothing stale is left beside the leader's.
 */
export interface WatcherMetricsOptions {
  registry: Registry;
  version: string;
  /** The traffic API the watcher steers, e.g. "TrafficSplit split.smi-spec.io/v1alpha4". */
  router: string;
  isLeader: () => boolean;
}

/** Flagger's status values: 0 running, 1 done (or idle), 2 failed. */
function statusOf(phase: Phase): number {
  if (phase === "Aborted") return 2;
  return phase === "Pending" || phase === "Progressing" || phase === "Paused" || phase === "Promoting"
    ? 0
    : 1;
}

const canaryLabels = ["namespace", "name"] as const;

export class WatcherMetrics {
  private readonly samples = new Map<string, CanarySample>();
  private readonly weight: Gauge<"namespace" | "name">;
  private readonly status: Gauge<"namespace" | "name">;
  private readonly phase: Gauge<"namespace" | "name" | "phase">;
  private readonly step: Gauge<"namespace" | "name">;
  private readonly failedChecks: Gauge<"namespace" | "name">;
  private readonly promotions: Counter<"namespace" | "name">;
  private readonly aborts: Counter<"namespace" | "name" | "reason">;
  private readonly reconcileErrors: Counter;
  private readonly reconcileDuration: Histogram;
  private readonly stepSkew: Histogram;

  constructor(options: WatcherMetricsOptions) {
    const registers = [options.registry];
    const samples = this.samples;
    new Gauge({
      name: "serin_info",
      help: "serin's version and the traffic API its watcher steers (always 1).",
      labelNames: ["version", "router"],
      registers,
    }).set({ version: options.version, router: options.router }, 1);
    new Gauge({
      name: "serin_leader",
      help: "1 when this replica's watcher leads (reconciles and reports per-canary series), else 0.",
      registers,
      collect() {
        this.set(options.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: "serin_canary_total",
      help: "Deployments enabled for serin, by namespace (reported by the leader).",
      labelNames: ["namespace"],
      registers,
      collect() {
        this.reset();
        const perNamespace = new Map<string, number>();
        for (const key of samples.keys()) {
          const { namespace } = canaryOf(key);
          perNamespace.set(namespace, (perNamespace.get(namespace) ?? 0) + 1);
        }
        for (const [namespace, count] of perNamespace) this.set({ namespace }, count);
      },
    });
    this.weight = new Gauge({
      name: "serin_canary_weight",
      help: "The canary's share of traffic in percent, as the traffic split holds it.",
      labelNames: canaryLabels,
      registers,
    });
    this.status = new Gauge({
      name: "serin_canary_status",
      help: "As flagger_canary_status: 0 in flight (Pending, Progressing, Paused, Promoting), 1 idle or succeeded, 2 aborted.",
      labelNames: canaryLabels,
      registers,
    });
    this.phase = new Gauge({
      name: "serin_canary_phase",
      help: "1 for the canary's current phase (the serin.dev/phase label), 0 for the others.",
      labelNames: [...canaryLabels, "phase"],
      registers,
    });
    this.step = new Gauge({
      name: "serin_canary_step",
      help: "The step held, counted from 1 (0 outside Progressing and Paused).",
      labelNames: canaryLabels,
      registers,
    });
    this.failedChecks = new Gauge({
      name: "serin_canary_failed_checks",
      help: "Consecutive failed metric checks of the canary in flight (an abort follows past serin.dev/failure-limit).",
      labelNames: canaryLabels,
      registers,
    });
    this.promotions = new Counter({
      name: "serin_canary_promotions_total",
      help: "Canaries promoted (Promoted events).",
      labelNames: canaryLabels,
      registers,
    });
    this.aborts = new Counter({
      name: "serin_canary_aborts_total",
      help: `Canaries aborted (Aborted events), by reason: ${ABORT_CAUSES.join(", ")}.`,
      labelNames: [...canaryLabels, "reason"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "serin_reconcile_errors_total",
      help: "Reconciles that failed and were retried with backoff.",
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: "serin_reconcile_duration_seconds",
      help: "Time one reconcile of a Deployment took, its writes and retries after lost races included.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.stepSkew = new Histogram({
      name: "serin_step_skew_seconds",
      help: "Time from when a step was due (its hold over) to its weight being written in the traffic split.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
  }

  /** What one reconcile of `key` ("namespace/name") did, how long it took, and whether it failed. */
  record(key: string, record: ReconcileRecord, seconds: number, failed: boolean): void {
    this.reconcileDuration.observe(seconds);
    if (failed) this.reconcileErrors.inc();
    const update = metricUpdate(record);
    const labels = canaryOf(key);
    if (update.promotions > 0) this.promotions.inc(labels, update.promotions);
    for (const reason of update.aborts) this.aborts.inc({ ...labels, reason });
    for (const skew of update.skewSeconds) this.stepSkew.observe(skew);
    if (update.sample === null) this.forget(key);
    else if (update.sample) this.report(key, update.sample);
  }

  /** This replica stopped leading (or is stopping): its per-canary series go. */
  forgetCanaries(): void {
    for (const key of [...this.samples.keys()]) this.forget(key);
  }

  private report(key: string, sample: CanarySample): void {
    const labels = canaryOf(key);
    this.samples.set(key, sample);
    this.weight.set(labels, sample.weight);
    this.status.set(labels, statusOf(sample.phase));
    for (const phase of PHASES) this.phase.set({ ...labels, phase }, phase === sample.phase ? 1 : 0);
    this.step.set(labels, sample.step);
    this.failedChecks.set(labels, sample.failedChecks);
  }

  private forget(key: string): void {
    const labels = canaryOf(key);
    this.samples.delete(key);
    this.weight.remove(labels);
    this.status.remove(labels);
    for (const phase of PHASES) this.phase.remove({ ...labels, phase });
    this.step.remove(labels);
    this.failedChecks.remove(labels);
    this.promotions.remove(labels);
    for (const reason of ABORT_CAUSES) this.aborts.remove({ ...labels, reason });
  }
}

function canaryOf(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
