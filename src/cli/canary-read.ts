// What the operator's commands read from the cluster: one enabled Deployment and its split, or every
// enabled Deployment of a namespace (or all) with their splits and serin's Events, in three LISTs
// whatever their number. Loaded by the commands' actions only: it brings the routers with it.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesObject,
  type V1Deployment,
} from "@kubernetes/client-node";
import { isEnabled } from "../contract/deployment.js";
import { ENABLED_LABEL, ENABLED_VALUE } from "../contract/keys.js";
import { isNotFound } from "../kube-errors.js";
import { OWNER_LABEL, routeTarget } from "../plan/objects.js";
import { createRouter } from "../routers/factory.js";
import type { Router } from "../routers/router.js";
import { type CanaryView, eventViews, type SplitView, serviceOf, viewOf } from "./canary-view.js";
import { type Cluster, describeClusterError } from "./cluster.js";
import { CliError } from "./exit.js";

/** serin's Events on Deployments, as a field selector. */
export const SERIN_EVENTS = "involvedObject.kind=Deployment,source=serin";

/** Runs a request; an error becomes a CliError that names the cluster. */
export async function ask<T>(cluster: Cluster, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(describeClusterError(error, cluster));
  }
}

/** The Deployment, when it exists and is enabled for serin; otherwise an error that names it. */
export async function readEnabledDeployment(cluster: Cluster, name: string): Promise<V1Deployment> {
  const target = `deployment ${cluster.namespace}/${name}`;
  let deployment: V1Deployment;
  try {
    deployment = await cluster.config
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name, namespace: cluster.namespace });
  } catch (error) {
    if (isNotFound(error)) throw new CliError(`${target} not found`);
    throw new CliError(describeClusterError(error, cluster));
  }
  if (!isEnabled(deployment)) {
    throw new CliError(`${target} is not enabled for serin: label it ${ENABLED_LABEL}=${ENABLED_VALUE}`);
  }
  return deployment;
}

/** The router of the traffic API the cluster serves, as the watcher picks it (`--router auto`). */
export function routerFor(cluster: Cluster): Promise<Router> {
  return ask(cluster, () => createRouter(cluster.config, { kind: "auto" }));
}

/** The split's weights and backends, as the router reads them; undefined when it has none readable. */
export function splitViewOf(
  router: Router,
  deployment: V1Deployment,
  split: KubernetesObject | undefined,
): SplitView | undefined {
  if (!split) return undefined;
  const target = routeTarget(deployment, serviceOf(deployment), undefined);
  try {
    const weights = router.readWeights(split, target);
    return {
      kind: split.kind ?? router.api.split(" ")[0] ?? "split",
      name: split.metadata?.name ?? target.service,
      stableService: target.stableService,
      canaryService: target.canaryService,
      ...weights,
    };
  } catch {
    return undefined;
  }
}

/** The traffic split of an enabled Deployment, as stored (undefined when there is none yet). */
export async function readSplit(
  cluster: Cluster,
  router: Router,
  deployment: V1Deployment,
): Promise<KubernetesObject | undefined> {
  const target = routeTarget(deployment, serviceOf(deployment), undefined);
  return (await ask(cluster, () => router.read(target))) as KubernetesObject | undefined;
}

/** The collection path of the router's objects, in one namespace or (undefined) in all. */
export function splitCollection(router: Router, namespace: string | undefined): string {
  const { group, version, plural } = router.resource;
  return namespace === undefined
    ? `/apis/${group}/${version}/${plural}`
    : `/apis/${group}/${version}/namespaces/${namespace}/${plural}`;
}

/** Joins Deployments with their splits (by namespace and Service name, serin's own only) and Events. */
export function joinCanaries(
  router: Router,
  deployments: readonly V1Deployment[],
  splits: readonly KubernetesObject[],
  events: readonly unknown[],
): CanaryView[] {
  const splitsByName = new Map<string, KubernetesObject>();
  for (const split of splits) {
    splitsByName.set(`${split.metadata?.namespace}/${split.metadata?.name}`, split);
  }
  const eventsByName = new Map<string, unknown[]>();
  for (const event of events) {
    const involved = (event as { involvedObject?: { namespace?: string; name?: string } }).involvedObject;
    const key = `${involved?.namespace}/${involved?.name}`;
    eventsByName.set(key, [...(eventsByName.get(key) ?? []), event]);
  }
  return deployments.filter(isEnabled).map((deployment) => {
    const namespace = deployment.metadata?.namespace;
    const name = deployment.metadata?.name ?? "";
    const found = splitsByName.get(`${namespace}/${serviceOf(deployment)}`);
    const split = found?.metadata?.labels?.[OWNER_LABEL] === name ? found : undefined;
    return viewOf(
      deployment,
      split,
      splitViewOf(router, deployment, split),
      eventViews(eventsByName.get(`${namespace}/${name}`) ?? []),
    );
  });
}

/**
 * Every enabled Deployment of the namespace (or of all, with -A), its split and serin's Events on it:
 * one LIST of each, not a request per Deployment.
 */
export async function listCanaries(cluster: Cluster, router: Router): Promise<CanaryView[]> {
  const namespace = cluster.allNamespaces ? undefined : cluster.namespace;
  const labelSelector = `${ENABLED_LABEL}=${ENABLED_VALUE}`;
  const apps = cluster.config.makeApiClient(AppsV1Api);
  const core = cluster.config.makeApiClient(CoreV1Api);
  const objects = cluster.config.makeApiClient(CustomObjectsApi);
  const { group, version, plural } = router.resource;
  const [deployments, splits, events] = await ask(cluster, () =>
    Promise.all([
      namespace === undefined
        ? apps.listDeploymentForAllNamespaces({ labelSelector })
        : apps.listNamespacedDeployment({ namespace, labelSelector }),
      (namespace === undefined
        ? objects.listCustomObjectForAllNamespaces({ group, version, plural, labelSelector: OWNER_LABEL })
        : objects.listNamespacedCustomObject({
            group,
            version,
            namespace,
            plural,
            labelSelector: OWNER_LABEL,
          })) as Promise<{ items?: KubernetesObject[] }>,
      namespace === undefined
        ? core.listEventForAllNamespaces({ fieldSelector: SERIN_EVENTS })
        : core.listNamespacedEvent({ namespace, fieldSelector: SERIN_EVENTS }),
    ]),
  );
  return joinCanaries(router, deployments.items, splits.items ?? [], events.items);
}
