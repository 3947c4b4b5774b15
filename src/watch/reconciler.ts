import type { KubernetesObject, V1Deployment, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apexServiceOf } from "../contract/deployment.js";
import type { SpecOptions } from "../contract/spec.js";
import type { Action, Plan } from "../plan/actions.js";
import { type Observed, type ObservedRoute, plan } from "../plan/decide.js";
import { planDeleted } from "../plan/deleted.js";
import { canaryDeploymentName, isOwnedBy, routeTarget } from "../plan/objects.js";
import type { Router, RouteTarget } from "../routers/router.js";
import { type Caches, CollisionError, type Executor, type Subject } from "./executor.js";
import type { GateJobs } from "./gate-jobs.js";
import { isConflict, isNotFound, type Kube } from "./kube.js";
import type { CanaryView } from "./metric-updates.js";
import { deploymentPath } from "./raw-json.js";
import type { WatcherMetrics } from "./watcher-metrics.js";

export interface ReconcilerOptions {
  kube: Kube;
  router: Router;
  executor: Executor;
  caches: Caches;
  gates: GateJobs;
  /**
   * The apex Services of the namespaces with enabled Deployments; `ready(namespace)` starts watching a
   * namespace when needed and tells whether its cache is filled.
   */
  apexServices: {
    get(name: string, namespace: string): V1Service | undefined;
    ready(namespace: string): boolean;
  };
  /** serin's track Services of a namespace that name `owner` in their owner label, from the informer. */
  ownedServices: (namespace: string, owner: string) => readonly V1Service[];
  logger: Logger;
  specOptions: SpecOptions;
  /** Where each reconcile's outcome is reported (the leader's metrics); absent: nowhere. */
  metrics?: WatcherMetrics;
  clock?: () => Date;
}

/** What a reconcile performed and where it left the canary, for the metrics. */
interface Outcome {
  performed: { action: Action; at: Date }[];
  after?: CanaryView | "gone";
}

const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** How many times a reconcile that lost a race reads afresh and decides again before it gives up. */
const ATTEMPTS = 3;
/** How soon a Deployment is looked at again while its namespace's Services are being listed. */
const APEX_WAIT_MS = 200;

/**
 * reconcile(key): read the Deployment and what surrounds it from the informer caches (seen through
 * serin's own latest writes), ask the planner, perform its actions. Level-triggered: nothing is
 * carried over from one call to the next but what the objects say. No request reads anything on this
 * path; a write that lost a race reads the two objects it depends on afresh and decides again.
 */
export class Reconciler {
  private readonly clock: () => Date;

  constructor(private readonly options: ReconcilerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const record: Outcome = { performed: [] };
    const started = performance.now();
    let failed = true;
    try {
      const result = await this.attempts(key, record);
      failed = false;
      return result;
    } finally {
      this.options.metrics?.record(key, record, (performance.now() - started) / 1000, failed);
    }
  }

  private async attempts(key: string, record: Outcome): Promise<{ requeueAfterMs?: number }> {
    const [namespace = "", name = ""] = key.split("/");
    let collision: { what: string; route: boolean } | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const decided = await this.once(key, namespace, name, collision, record);
        return decided.requeueAfterMs !== undefined ? { requeueAfterMs: decided.requeueAfterMs } : {};
      } catch (error) {
        if (attempt >= ATTEMPTS) throw error;
        if (error instanceof CollisionError && collision === undefined) {
          collision = { what: error.what, route: error.route };
          continue;
        }
        if (!isConflict(error) && !isNotFound(error)) throw error;
        await this.refresh(namespace, name);
      }
    }
  }

  private async once(
    key: string,
    namespace: string,
    name: string,
    collision: { what: string; route: boolean } | undefined,
    record: Outcome,
  ): Promise<Plan> {
    const { caches, executor } = this.options;
    let deployment = caches.deployments.get(name, namespace);
    if (!deployment) deployment = await this.unlabelled(namespace, name);
    if (!deployment) {
      // Deleted (or no longer enabled and gone from the cache): what serin owned for it goes.
      this.options.gates.forget(key);
      const owned = this.options.ownedServices(namespace, name);
      const decided = planDeleted({
        canary: caches.canaries.get(canaryDeploymentName(name), namespace) !== undefined,
        services: [
          ...new Set(owned.map((service) => (service.metadata?.name ?? "").replace(/-(stable|canary)$/, ""))),
        ],
      });
      const stub: V1Deployment = { metadata: { name, namespace } };
      for (const action of decided.actions) {
        const service = action.type === "removeRouting" ? action.service : name;
        await executor.perform(action, {
          key,
          deployment: stub,
          apexService: undefined,
          target: routeTarget(stub, service, undefined),
          route: caches.routes.get(service, namespace),
        });
        record.performed.push({ action, at: this.clock() });
      }
      record.after = "gone";
      return decided;
    }
    const service = apexServiceOf(deployment);
    const routable = SERVICE_NAME.test(service);
    // Deciding before the namespace's Services are listed would read a missing apex Service.
    if (routable && !this.options.apexServices.ready(namespace))
      return { actions: [], requeueAfterMs: APEX_WAIT_MS };
    const apexService = routable ? this.options.apexServices.get(service, namespace) : undefined;
    const target = routeTarget(deployment, service, apexService);
    const route = routable ? caches.routes.get(service, namespace) : undefined;
    const jobs = this.options.gates.observe(key);
    const standing = collision ?? this.collisionOf(deployment, target, route);
    const observed: Observed = {
      now: this.clock(),
      deployment,
      canary: caches.canaries.get(canaryDeploymentName(name), namespace),
      apexService,
      route: this.routeView(route, target),
      ...(jobs.checks ? { checks: jobs.checks } : {}),
      ...(jobs.tests ? { tests: jobs.tests } : {}),
      running: jobs.running,
      specOptions: this.options.specOptions,
      ...(standing ? { collision: standing } : {}),
    };
    const decided = plan(observed);
    const subject: Subject = { key, deployment, apexService, target, route };
    const log = this.options.logger.child({ deployment: key });
    for (const action of decided.actions) {
      await executor.perform(action, subject);
      record.performed.push({ action, at: this.clock() });
    }
    record.after = {
      labels: subject.deployment.metadata?.labels ?? {},
      route: this.routeView(subject.route as KubernetesObject | undefined, target),
    };
    if (decided.actions.some((action) => action.type === "writeDeployment" || action.type === "writeRoute")) {
      log.info(
        {
          phase: subject.deployment.metadata?.labels?.["serin.dev/phase"],
          actions: decided.actions.map((action) => action.type),
        },
        "reconciled",
      );
    }
    return decided;
  }

  /** The split as the planner reads it: the canary's share and serin's annotations. */
  private routeView(route: KubernetesObject | undefined, target: RouteTarget): ObservedRoute | undefined {
    if (!route) return undefined;
    return {
      canaryWeight: this.options.router.readWeights(route, target).canary,
      annotations: route.metadata?.annotations ?? {},
    };
  }

  /** A track Service or the split that stands where serin's would, and is someone else's. */
  private collisionOf(
    deployment: V1Deployment,
    target: RouteTarget,
    route: KubernetesObject | undefined,
  ): { what: string; route: boolean } | undefined {
    const { caches, router } = this.options;
    for (const name of [target.stableService, target.canaryService]) {
      const existing = caches.trackServices.get(name, target.namespace);
      if (existing && !isOwnedBy(existing, deployment))
        return { what: `Service ${target.namespace}/${name}`, route: false };
    }
    if (route && !isOwnedBy(route, deployment))
      return { what: `${router.api} ${target.namespace}/${target.service}`, route: true };
    return undefined;
  }

  /**
   * Gone from the cache of enabled Deployments: deleted, or its opt-in label removed. Only a read can
   * tell (off the hot path: it happens once per opt-out or deletion); an opted-out Deployment still has
   * serin's labels to clean up.
   */
  private async unlabelled(namespace: string, name: string): Promise<V1Deployment | undefined> {
    try {
      const found = await this.options.kube.raw.send<V1Deployment>("GET", deploymentPath(namespace, name));
      const serins = Object.keys({ ...found.metadata?.labels, ...found.metadata?.annotations }).some(
        (key) => key.startsWith("serin.dev/") && key !== "serin.dev/canary",
      );
      const owned = this.options.ownedServices(namespace, name).length > 0;
      return serins || owned || this.options.caches.canaries.get(canaryDeploymentName(name), namespace)
        ? found
        : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** After a lost race: the Deployment and its split as they are now, ahead of the informers. */
  private async refresh(namespace: string, name: string): Promise<void> {
    const { kube, caches, router } = this.options;
    try {
      caches.deployments.remember(await kube.raw.send<V1Deployment>("GET", deploymentPath(namespace, name)));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      caches.deployments.forget(name, namespace);
      return;
    }
    const deployment = caches.deployments.get(name, namespace);
    const service = apexServiceOf(deployment);
    if (!SERVICE_NAME.test(service)) return;
    const route = await router.read(routeTarget(deployment ?? {}, service, undefined));
    if (route) caches.routes.remember(route as KubernetesObject);
    else caches.routes.forget(service, namespace);
  }
}
