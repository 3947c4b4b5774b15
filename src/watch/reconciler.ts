import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { runChecks } from "../analysis/checks.js";
import type { PrometheusClient } from "../analysis/prometheus.js";
import type { MetricTemplates } from "../analysis/queries.js";
import { runTestGates } from "../analysis/test-gates.js";
import { annotationsOf } from "../contract/deployment.js";
import { UserKey } from "../contract/keys.js";
import type { SpecOptions } from "../contract/spec.js";
import type { TestUrlPolicy } from "../contract/test-urls.js";
import { type GateVerdict, plan } from "../plan/decide.js";
import { dueGates } from "../plan/gates.js";
import {
  canaryDeploymentName,
  OWNER_LABEL,
  ownedLabels,
  ownerReferenceTo,
  trackServiceName,
} from "../plan/objects.js";
import type { Router, RouteTarget } from "../routers/router.js";
import type { Executor, OwnedCaches, Subject } from "./executor.js";
import { ignoreNotFound, isNotFound, type Kube } from "./kube.js";
import { deploymentPath } from "./raw-json.js";

/** What the watcher needs to judge a step: Prometheus for the checks, and the test-gate allowlist. */
export interface GateRunners {
  prometheus: PrometheusClient;
  templates: MetricTemplates;
  /** The shortest range rate() is taken over; the analysis interval when that is longer. */
  metricsWindowMs: number;
  testUrlPolicy: TestUrlPolicy;
}

export interface ReconcilerOptions {
  gates: GateRunners;
  kube: Kube;
  router: Router;
  executor: Executor;
  caches: OwnedCaches;
  logger: Logger;
  specOptions: SpecOptions;
  clock?: () => Date;
}

const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function routeTarget(
  deployment: V1Deployment,
  service: string,
  apex: V1Service | undefined,
): RouteTarget {
  return {
    namespace: deployment.metadata?.namespace ?? "",
    service,
    stableService: trackServiceName(service, "stable"),
    canaryService: trackServiceName(service, "canary"),
    port: apex?.spec?.ports?.[0]?.port ?? 80,
    owner: ownerReferenceTo(deployment),
    labels: ownedLabels(deployment),
  };
}

/**
 * reconcile(key): read the Deployment and what surrounds it, ask the planner, perform its actions.
 * Level-triggered: nothing is carried over from one call to the next.
 */
export class Reconciler {
  private readonly clock: () => Date;

  constructor(private readonly options: ReconcilerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const { kube, router, executor, caches } = this.options;
    const [namespace = "", name = ""] = key.split("/");
    let deployment: V1Deployment;
    try {
      // Raw JSON: fields client-node's models do not know survive into the canary and the promotion.
      deployment = await kube.raw.send<V1Deployment>("GET", deploymentPath(namespace, name));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.removeOwned(namespace, name);
      return {};
    }
    const service = annotationsOf(deployment)[UserKey.service] ?? name;
    const apexService = caches.services.get(service, namespace);
    const target = routeTarget(deployment, service, apexService);
    // The split from the informer's cache: the Deployment is read fresh (its state decides), the split
    // only tells whether a write is needed, and a stale copy costs at most one no-op read-and-compare.
    const route = SERVICE_NAME.test(service) ? caches.routes.get(service, namespace) : undefined;
    const canaryWeight = route ? router.readWeights(route, target).canary : undefined;
    const now = this.clock();
    const verdicts = await this.runDueGates(deployment, service, now);
    const decided = plan({
      ...verdicts,
      now,
      deployment,
      canary: caches.canaries.get(canaryDeploymentName(name), namespace),
      apexService,
      canaryWeight,
      specOptions: this.options.specOptions,
    });
    const subject: Subject = { deployment, apexService, target, canaryWeight };
    const log = this.options.logger.child({ deployment: key });
    for (const action of decided.actions) {
      log.debug({ action: action.type }, "performing");
      await executor.perform(action, subject);
    }
    if (decided.actions.some((action) => action.type === "writeDeployment")) {
      log.info(
        {
          phase: subject.deployment.metadata?.annotations?.["serin.dev/phase"],
          actions: decided.actions.map((action) => action.type),
        },
        "reconciled",
      );
    }
    return decided.requeueAfterMs !== undefined ? { requeueAfterMs: decided.requeueAfterMs } : {};
  }

  /** Runs the metric checks and test gates that are due now; the tests only when the checks pass. */
  private async runDueGates(
    deployment: V1Deployment,
    service: string,
    now: Date,
  ): Promise<{ analysis?: GateVerdict; tests?: GateVerdict }> {
    const due = dueGates(deployment, now, this.options.specOptions);
    if (!due) return {};
    const { gates } = this.options;
    const namespace = deployment.metadata?.namespace ?? "";
    const name = deployment.metadata?.name ?? "";
    let analysis: GateVerdict | undefined;
    if (due.checks) {
      const windowMs = Math.max(due.spec.analysisIntervalMs, gates.metricsWindowMs);
      const scope = { namespace, deployment: canaryDeploymentName(name), service, windowMs };
      analysis = await runChecks(due.checks, scope, gates.prometheus, gates.templates);
    }
    let tests: GateVerdict | undefined;
    if (due.tests && (!analysis || analysis.result === "pass")) {
      const payload = {
        deployment: name,
        namespace,
        revision: due.state.revision,
        step: due.tests.step,
        weight: due.tests.weight,
        canaryService: trackServiceName(service, "canary"),
      };
      tests = await runTestGates(due.tests.urls, payload, gates.testUrlPolicy);
    }
    return { ...(analysis ? { analysis } : {}), ...(tests ? { tests } : {}) };
  }

  /**
   * The Deployment is gone. A cluster's garbage collector removes what carries its ownerReference;
   * serin does it too, so nothing is left behind where no collector runs.
   */
  private async removeOwned(namespace: string, name: string): Promise<void> {
    const { kube, router } = this.options;
    await ignoreNotFound(
      kube.apps.deleteNamespacedDeployment({ name: canaryDeploymentName(name), namespace }),
    );
    const owned = await kube.core.listNamespacedService({
      namespace,
      labelSelector: `${OWNER_LABEL}=${name}`,
    });
    const services = new Set(
      owned.items.map((item) => (item.metadata?.name ?? "").replace(/-(stable|canary)$/, "")).filter(Boolean),
    );
    for (const service of services) {
      const target = routeTarget({ metadata: { name, namespace } }, service, undefined);
      await router.finalize(target);
      for (const trackName of [target.stableService, target.canaryService]) {
        await ignoreNotFound(kube.core.deleteNamespacedService({ name: trackName, namespace }));
      }
    }
  }
}
