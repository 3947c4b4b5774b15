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
import { ignoreNotFound, isNotFound, jsonPatch, type Kube, mergePatch } from "./kube.js";

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
        const written = await this.kube.apps.patchNamespacedDeployment(
          { name: deployment.metadata?.name ?? "", namespace, body },
          jsonPatch,
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

  private async ensureService(desired: V1Service): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    const cached = this.caches.services.get(name, namespace);
    if (cached && !serviceDiffers(cached, desired)) return;
    let existing: V1Service;
    try {
      existing = await this.kube.core.readNamespacedService({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.kube.core.createNamespacedService({ namespace, body: desired });
      this.logger.info({ service: name }, "created track Service");
      return;
    }
    if (!serviceDiffers(existing, desired)) return;
    await this.kube.core.patchNamespacedService(
      {
        name,
        namespace,
        body: {
          metadata: { resourceVersion: existing.metadata?.resourceVersion, labels: desired.metadata?.labels },
          spec: { selector: desired.spec?.selector, ports: desired.spec?.ports },
        },
      },
      mergePatch,
    );
  }

  private async applyCanary(desired: V1Deployment): Promise<void> {
    const name = desired.metadata?.name ?? "";
    const namespace = desired.metadata?.namespace ?? "";
    const cached = this.caches.canaries.get(name, namespace);
    if (cached && !canaryDiffers(cached, desired)) return;
    let existing: V1Deployment;
    try {
      existing = await this.kube.apps.readNamespacedDeployment({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.kube.apps.createNamespacedDeployment({ namespace, body: desired });
      this.logger.info({ canary: name }, "created canary Deployment");
      return;
    }
    if (!canaryDiffers(existing, desired)) return;
    await this.kube.apps.replaceNamespacedDeployment({
      name,
      namespace,
      body: {
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
      },
    });
    this.logger.info({ canary: name }, "re-pointed canary Deployment");
  }
}
