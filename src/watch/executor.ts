import type { KubernetesObject, V1Deployment, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { WEIGHT_SCALE } from "../contract/keys.js";
import type { Action } from "../plan/actions.js";
import {
  canaryDeployment,
  canaryDeploymentName,
  canaryDiffers,
  isOwnedBy,
  serviceDiffers,
  trackService,
  trackServiceName,
} from "../plan/objects.js";
import type { Router, RouteTarget } from "../routers/router.js";
import { deploymentWriteOps } from "./deployment-write.js";
import type { EventRecorder } from "./events.js";
import type { GateJobs } from "./gate-jobs.js";
import { ignoreNotFound, isConflict, JSON_PATCH, type Kube, mergePatch } from "./kube.js";
import { deploymentPath } from "./raw-json.js";
import type { ReadYourWrites } from "./read-your-writes.js";

/** What one reconcile works on: the Deployment as read, and where its traffic goes. */
export interface Subject {
  /** namespace/name of the Deployment. */
  key: string;
  deployment: V1Deployment;
  apexService: V1Service | undefined;
  target: RouteTarget;
  /** The traffic split as read (undefined: none yet). */
  route: unknown;
}

/** The informer caches, each seen through this process's own latest writes. */
export interface Caches {
  deployments: ReadYourWrites<V1Deployment>;
  canaries: ReadYourWrites<V1Deployment>;
  /** serin's own track Services only (selected by owner label). */
  trackServices: ReadYourWrites<V1Service>;
  routes: ReadYourWrites<KubernetesObject>;
}

/** An object serin would create or change stands there and belongs to someone else. */
export class CollisionError extends Error {
  constructor(
    readonly what: string,
    readonly route = false,
  ) {
    super(`${what} exists and is not serin's`);
  }
}

/** This replica may no longer be the only writer: nothing more is written until it knows again. */
class NotLeaderError extends Error {
  constructor() {
    super("not sure to hold the Lease any more: nothing written");
  }
}

/** Performs the planner's actions against the API server, one at a time, in order. */
export class Executor {
  constructor(
    private readonly kube: Kube,
    private readonly router: Router,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly caches: Caches,
    private readonly gates: GateJobs,
    /** Asked before every action: false when another replica may be writing by now. */
    private readonly mayWrite: () => boolean = () => true,
  ) {}

  async perform(action: Action, subject: Subject): Promise<void> {
    if (!this.mayWrite()) throw new NotLeaderError();
    this.logger.debug({ deployment: subject.key, action: action.type }, "performing");
    const { deployment, target } = subject;
    const namespace = target.namespace;
    const name = deployment.metadata?.name ?? "";
    switch (action.type) {
      case "ensureServices":
        if (subject.apexService) {
          await this.ensureService(trackService(subject.apexService, "stable", deployment), name);
          await this.ensureService(trackService(subject.apexService, "canary", deployment), name);
        }
        return;
      case "writeRoute": {
        if (subject.route && !isOwnedBy(subject.route as KubernetesObject, deployment)) {
          throw new CollisionError(`${this.router.api} ${namespace}/${target.service}`, true);
        }
        const weights = { stable: WEIGHT_SCALE - action.canary, canary: action.canary };
        const written = await this.router
          .write(target, weights, action.annotations, subject.route)
          .catch((error: unknown) => this.routeCreateLost(error, subject));
        if (written !== subject.route) {
          this.caches.routes.remember(written as KubernetesObject);
          subject.route = written;
        }
        return;
      }
      case "applyCanary":
        await this.applyCanary(canaryDeployment(deployment, action.template, action.revision), name);
        return;
      case "deleteCanary":
        await this.deleteCanary(namespace, name);
        return;
      case "removeRouting":
        await this.removeRouting(namespace, action.service, subject);
        return;
      case "writeDeployment": {
        const body = deploymentWriteOps(deployment, action.annotations, action.template, action.labels);
        const written = await this.kube.raw.send<V1Deployment>(
          "PATCH",
          deploymentPath(namespace, name),
          body,
          JSON_PATCH,
        );
        this.caches.deployments.remember(written);
        // Later actions of the same plan (events) refer to the object as now stored.
        subject.deployment = written;
        return;
      }
      case "event":
        this.events.record(deployment, action.reason, action.message, action.warning);
        return;
      case "runChecks":
        this.gates.startChecks(subject.key, action.checks, action.ticket, {
          namespace,
          deployment: canaryDeploymentName(name),
          service: target.service,
          analysisIntervalMs: action.intervalMs,
        });
        return;
      case "callTests":
        this.gates.startTests(subject.key, action.urls, action.ticket, {
          deployment: name,
          namespace,
          revision: action.ticket.revision,
          step: action.step,
          weight: action.weight,
          canaryService: target.canaryService,
        });
        return;
    }
  }

  /**
   * A route create that answered 409: a split of that name that serin's informer (serin's own, by
   * owner label) does not hold. Someone else's is a collision; serin's own that lost its label is
   * remembered, so that the reconcile's next attempt repairs it.
   */
  private async routeCreateLost(error: unknown, subject: Subject): Promise<never> {
    if (subject.route !== undefined || !isConflict(error)) throw error;
    const { target, deployment } = subject;
    const there = (await this.router.read(target)) as KubernetesObject | undefined;
    if (there && !isOwnedBy(there, deployment)) {
      throw new CollisionError(`${this.router.api} ${target.namespace}/${target.service}`, true);
    }
    if (there) this.caches.routes.remember(there);
    throw error;
  }

  /** A track Service made to match: created when missing, patched when it differs; never someone else's. */
  private async ensureService(desired: V1Service, owner: string): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    const existing = this.caches.trackServices.get(name, namespace);
    if (existing && !isOwnedBy(existing, { metadata: { name: owner } })) {
      throw new CollisionError(`Service ${namespace}/${name}`);
    }
    if (existing && !serviceDiffers(existing, desired)) return;
    if (!existing) {
      try {
        const created = await this.kube.core.createNamespacedService({
          namespace,
          body: desired,
          fieldManager: "serin",
        });
        this.caches.trackServices.remember(created);
        this.logger.info(`created track Service ${name}`);
        return;
      } catch (error) {
        // Not in the cache of serin's Services, yet there: someone else's.
        if (isConflict(error)) throw new CollisionError(`Service ${namespace}/${name}`);
        throw error;
      }
    }
    // A merge patch keeps the clusterIP the API server allocated; the resourceVersion guards it.
    const patched = await this.kube.core.patchNamespacedService(
      {
        name,
        namespace,
        fieldManager: "serin",
        body: {
          metadata: { resourceVersion: existing.metadata?.resourceVersion, labels: desired.metadata?.labels },
          spec: { selector: desired.spec?.selector, ports: desired.spec?.ports },
        },
      },
      mergePatch,
    );
    this.caches.trackServices.remember(patched);
    this.logger.info(`updated track Service ${name}`);
  }

  /**
   * `<name>-canary` made to match, as raw JSON both ways (the user's template reaches the canary with
   * every field it has): created when missing, replaced when another revision or size is wanted.
   */
  private async applyCanary(desired: V1Deployment, owner: string): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    const existing = this.caches.canaries.get(name, namespace);
    if (existing && !canaryDiffers(existing, desired)) return;
    if (!existing) {
      let created: V1Deployment;
      try {
        created = await this.kube.raw.send<V1Deployment>("POST", deploymentPath(namespace), desired);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Already there yet not in the cache of serin's canaries: someone else's Deployment.
        const there = await this.kube.raw.send<V1Deployment>("GET", deploymentPath(namespace, name));
        if (!isOwnedBy(there, { metadata: { name: owner } }))
          throw new CollisionError(`Deployment ${namespace}/${name}`);
        this.caches.canaries.remember(there);
        throw error;
      }
      this.caches.canaries.remember(created);
      this.logger.info(`created canary Deployment ${name}`);
      return;
    }
    const replaced = await this.kube.raw.send<V1Deployment>("PUT", deploymentPath(namespace, name), {
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
    });
    this.caches.canaries.remember(replaced);
    this.logger.info(`updated canary Deployment ${name}`);
  }

  /** Deletes serin's canary only: the one in its cache, and only that object (its uid as precondition). */
  private async deleteCanary(namespace: string, owner: string): Promise<void> {
    const name = canaryDeploymentName(owner);
    const existing = this.caches.canaries.get(name, namespace);
    if (!existing || !isOwnedBy(existing, { metadata: { name: owner } })) return;
    await ignoreNotFound(
      this.kube.raw.send("DELETE", deploymentPath(namespace, name), {
        kind: "DeleteOptions",
        apiVersion: "v1",
        propagationPolicy: "Background",
        preconditions: { uid: existing.metadata?.uid },
      }),
    );
    this.caches.canaries.forget(name, namespace);
  }

  /** The split and the two track Services of `service`, where they are serin's for this Deployment. */
  private async removeRouting(namespace: string, service: string, subject: Subject): Promise<void> {
    // subject.deployment is the Deployment, or a stub with its name once it is deleted.
    const route = this.caches.routes.get(service, namespace);
    if (route && isOwnedBy(route, subject.deployment)) {
      await this.router.finalize({ ...subject.target, service });
      this.caches.routes.forget(service, namespace);
    }
    for (const track of ["stable", "canary"] as const) {
      const name = trackServiceName(service, track);
      const existing = this.caches.trackServices.get(name, namespace);
      if (!existing || !isOwnedBy(existing, subject.deployment)) continue;
      await ignoreNotFound(
        this.kube.core.deleteNamespacedService({
          name,
          namespace,
          body: { preconditions: { uid: existing.metadata?.uid } },
        }),
      );
      this.caches.trackServices.forget(name, namespace);
    }
  }
}
