import type { V1Deployment, V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { WEIGHT_SCALE } from "../contract/keys.js";
import type { Action } from "../plan/actions.js";
import {
  canaryDeployment,
  canaryDeploymentName,
  canaryDiffers,
  serviceDiffers,
  trackService,
} from "../plan/objects.js";
import type { Router, RouteTarget } from "../routers/router.js";
import { deploymentWriteOps } from "./deployment-write.js";
import type { EventRecorder } from "./events.js";
import { ignoreNotFound, isNotFound, JSON_PATCH, type Kube, mergePatch } from "./kube.js";
import { deploymentPath } from "./raw-json.js";

/** What one reconcile works on: the Deployment as read, and where its traffic goes. */
export interface Subject {
  deployment: V1Deployment;
  apexService: V1Service | undefined;
  target: RouteTarget;
  /** The canary's share as read at the start of this reconcile (undefined: no route object). */
  canaryWeight: number | undefined;
}

/** Informer caches: objects that already match need no read at all. */
export interface OwnedCaches {
  canaries: { get(name: string, namespace?: string): V1Deployment | undefined };
  services: { get(name: string, namespace?: string): V1Service | undefined };
  routes: { get(name: string, namespace?: string): unknown };
}

/** Performs the planner's actions against the API server, one at a time, in order. */
export class Executor {
  constructor(
    private readonly kube: Kube,
    private readonly router: Router,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly caches: OwnedCaches,
  ) {}

  async perform(action: Action, subject: Subject): Promise<void> {
    const { deployment, target } = subject;
    const namespace = target.namespace;
    switch (action.type) {
      case "ensureServices":
        if (subject.apexService) {
          await this.ensureService(trackService(subject.apexService, "stable", deployment));
          await this.ensureService(trackService(subject.apexService, "canary", deployment));
        }
        return;
      case "setWeights":
        // The split already shows these weights: no call at all.
        if (subject.canaryWeight === action.canary) return;
        await this.router.setWeights(target, { stable: WEIGHT_SCALE - action.canary, canary: action.canary });
        subject.canaryWeight = action.canary;
        return;
      case "applyCanary":
        await this.applyCanary(canaryDeployment(deployment, action.template, action.revision));
        return;
      case "deleteCanary":
        await ignoreNotFound(
          this.kube.apps.deleteNamespacedDeployment({
            name: canaryDeploymentName(deployment.metadata?.name ?? ""),
            namespace,
            propagationPolicy: "Background",
          }),
        );
        return;
      case "removeRouting":
        await this.router.finalize(target);
        for (const name of [target.stableService, target.canaryService]) {
          await ignoreNotFound(this.kube.core.deleteNamespacedService({ name, namespace }));
        }
        return;
      case "writeDeployment": {
        const body = deploymentWriteOps(deployment, action.annotations, action.template, action.labels);
        const written = await this.kube.raw.send<V1Deployment>(
          "PATCH",
          deploymentPath(namespace, deployment.metadata?.name ?? ""),
          body,
          JSON_PATCH,
        );
        // Later actions of the same plan (events) refer to the object as now stored.
        subject.deployment = written;
        return;
      }
      case "event":
        await this.events.record(deployment, action.reason, action.message, action.warning);
        return;
    }
  }

  private ensureService(desired: V1Service): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    return this.converge(`track Service ${name}`, desired, {
      cached: this.caches.services.get(name, namespace),
      differs: serviceDiffers,
      read: () => this.kube.core.readNamespacedService({ name, namespace }),
      create: () => this.kube.core.createNamespacedService({ namespace, body: desired }),
      // A merge patch keeps the clusterIP the API server allocated.
      update: (existing) =>
        this.kube.core.patchNamespacedService(
          {
            name,
            namespace,
            body: {
              metadata: {
                resourceVersion: existing.metadata?.resourceVersion,
                labels: desired.metadata?.labels,
              },
              spec: { selector: desired.spec?.selector, ports: desired.spec?.ports },
            },
          },
          mergePatch,
        ),
    });
  }

  private applyCanary(desired: V1Deployment): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    return this.converge(`canary Deployment ${name}`, desired, {
      cached: this.caches.canaries.get(name, namespace),
      differs: canaryDiffers,
      // Raw JSON both ways: the user's template reaches the canary with every field it has.
      read: () => this.kube.raw.send<V1Deployment>("GET", deploymentPath(namespace, name)),
      create: () => this.kube.raw.send("POST", deploymentPath(namespace), desired),
      update: (existing) =>
        this.kube.raw.send("PUT", deploymentPath(namespace, name), {
          ...desired,
          metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
        }),
    });
  }

  /**
   * An owned object made to match `desired`: nothing when the informer's copy already does; otherwise
   * read it, create it when missing, update it (guarded by the resourceVersion read) when different.
   */
  private async converge<T>(
    what: string,
    desired: T,
    object: {
      cached: T | undefined;
      differs(existing: T, desired: T): boolean;
      read(): Promise<T>;
      create(): Promise<unknown>;
      update(existing: T): Promise<unknown>;
    },
  ): Promise<void> {
    if (object.cached && !object.differs(object.cached, desired)) return;
    let existing: T;
    try {
      existing = await object.read();
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await object.create();
      this.logger.info(`created ${what}`);
      return;
    }
    if (!object.differs(existing, desired)) return;
    await object.update(existing);
    this.logger.info(`updated ${what}`);
  }
}
