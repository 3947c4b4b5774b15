import type { V1Deployment, V1OwnerReference, V1PodTemplateSpec, V1Service } from "@kubernetes/client-node";
import { ENABLED_LABEL, StatusLabel, TRACK_LABEL, type Track } from "../contract/keys.js";
import { canonicalJson } from "../contract/revision.js";
import type { RouteTarget } from "../routers/router.js";

/** The objects serin owns beside an enabled Deployment, built from plain values. */

/** Put on everything serin creates, so it can be found again when the Deployment is gone. */
export const OWNER_LABEL = "serin.dev/deployment";

/** On `<name>-canary`: the revision of the template it runs. */
const CANARY_REVISION = "serin.dev/revision";

export const canaryDeploymentName = (deploymentName: string) => `${deploymentName}-canary`;
export const trackServiceName = (service: string, track: Track) => `${service}-${track}`;

function ownerReferenceTo(deployment: V1Deployment): V1OwnerReference {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: deployment.metadata?.name ?? "",
    uid: deployment.metadata?.uid ?? "",
    controller: true,
  };
}

/**
 * Whether serin made `object` for the Deployment: its `serin.dev/deployment` label names it, or an
 * ownerReference points at the Deployment's uid. Nothing else is serin's to change or delete.
 */
export function isOwnedBy(
  object: { metadata?: { labels?: Record<string, string>; ownerReferences?: { uid: string }[] } },
  deployment: { metadata?: { name?: string; uid?: string } },
): boolean {
  const name = deployment.metadata?.name;
  if (name && object.metadata?.labels?.[OWNER_LABEL] === name) return true;
  const uid = deployment.metadata?.uid;
  return uid !== undefined && (object.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

function ownedLabels(deployment: V1Deployment): Record<string, string> {
  return { [OWNER_LABEL]: deployment.metadata?.name ?? "" };
}

/** `<name>-canary`: the Deployment's spec with the pending template, on the canary track. */
export function canaryDeployment(
  primary: V1Deployment,
  pendingTemplate: V1PodTemplateSpec,
  revision: string,
): V1Deployment {
  const name = primary.metadata?.name ?? "";
  // Without the opt-in label, so the webhook and the watcher leave the canary itself alone, and
  // without the primary's status labels.
  const labels = Object.fromEntries(
    Object.entries(primary.metadata?.labels ?? {}).filter(
      ([key]) => key !== ENABLED_LABEL && key !== StatusLabel.phase && key !== StatusLabel.weight,
    ),
  );
  const selector = primary.spec?.selector ?? {};
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: canaryDeploymentName(name),
      namespace: primary.metadata?.namespace ?? "",
      labels: { ...labels, ...ownedLabels(primary), [TRACK_LABEL]: "canary" },
      annotations: { [CANARY_REVISION]: revision },
      ownerReferences: [ownerReferenceTo(primary)],
    },
    spec: {
      ...primary.spec,
      paused: false,
      replicas: primary.spec?.replicas ?? 1,
      selector: { ...selector, matchLabels: { ...selector.matchLabels, [TRACK_LABEL]: "canary" } },
      template: {
        ...pendingTemplate,
        metadata: {
          ...pendingTemplate.metadata,
          labels: { ...pendingTemplate.metadata?.labels, [TRACK_LABEL]: "canary" },
        },
      },
    },
  };
}

/** `<service>-stable` / `<service>-canary`: the apex Service's ports, its selector narrowed to one track. */
export function trackService(apex: V1Service, track: Track, owner: V1Deployment): V1Service {
  const service = apex.metadata?.name ?? "";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: trackServiceName(service, track),
      namespace: apex.metadata?.namespace ?? "",
      labels: ownedLabels(owner),
      ownerReferences: [ownerReferenceTo(owner)],
    },
    spec: {
      type: "ClusterIP",
      ports: (apex.spec?.ports ?? []).map(({ name, port, targetPort, protocol, appProtocol }) => ({
        ...(name ? { name } : {}),
        port,
        ...(targetPort !== undefined ? { targetPort } : {}),
        protocol: protocol ?? "TCP",
        ...(appProtocol ? { appProtocol } : {}),
      })),
      selector: { ...apex.spec?.selector, [TRACK_LABEL]: track },
    },
  };
}

/** Whether an existing object differs from the desired one in the fields serin sets. */
export function serviceDiffers(existing: V1Service, desired: V1Service): boolean {
  const shape = (service: V1Service) =>
    canonicalJson({
      selector: service.spec?.selector,
      ports: (service.spec?.ports ?? []).map(({ name, port, targetPort, protocol, appProtocol }) => ({
        name,
        port,
        targetPort,
        protocol: protocol ?? "TCP",
        appProtocol,
      })),
      labels: service.metadata?.labels?.[OWNER_LABEL],
    });
  return shape(existing) !== shape(desired);
}

/**
 * Compared by the revision stamped on the canary rather than by template: the API server fills in
 * defaults, so a stored template never equals the one sent.
 */
export function canaryDiffers(existing: V1Deployment, desired: V1Deployment): boolean {
  const shape = (deployment: V1Deployment) =>
    canonicalJson({
      revision: deployment.metadata?.annotations?.[CANARY_REVISION],
      replicas: deployment.spec?.replicas,
      selector: deployment.spec?.selector,
    });
  return shape(existing) !== shape(desired);
}

export function canaryRevisionOf(canary: V1Deployment | undefined): string | undefined {
  return canary?.metadata?.annotations?.[CANARY_REVISION];
}

/** Where a Deployment's traffic goes: its apex Service, the two track Services, owner and labels. */
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
