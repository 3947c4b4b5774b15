import { ApisApi, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiErrorCode } from "../kube-errors.js";
import {
  HTTPROUTE_APIS,
  HTTPROUTE_PLURAL,
  type HttpRouteApi,
  type HttpRouteGroup,
  httpRouteApiFor,
} from "./httproute.js";
import { HttpRouteRouter } from "./httproute-router.js";
import type { Router } from "./router.js";
import { SMI_GROUP, SMI_VERSIONS, type SmiVersion, TRAFFIC_SPLIT_PLURAL } from "./smi.js";
import { SmiRouter } from "./smi-router.js";

/** What the platform team configured: let discovery decide, or name the API (and optionally its version). */
export type RouterChoice =
  | { kind: "auto" }
  | { kind: "smi"; version?: SmiVersion }
  | { kind: "httproute"; group?: HttpRouteGroup };

/** The API a router will use, fully determined. */
export type RouterApi = { kind: "smi"; version: SmiVersion } | { kind: "httproute"; api: HttpRouteApi };

const SMI_CANDIDATES = SMI_VERSIONS.map((version) => `${SMI_GROUP}/${version}`);
const HTTPROUTE_CANDIDATES = HTTPROUTE_APIS.map((api) => `${api.group}/${api.version}`);

/**
 * Picks the API from the group-versions the cluster serves route objects under ("split.smi-spec.io/v1alpha2",
 * "gateway.networking.k8s.io/v1"): the newest TrafficSplit, else an HTTPRoute (Gateway API's before
 * Linkerd's). A choice that names a version needs no discovery and is taken as it is.
 */
export function chooseRouterApi(servedGroupVersions: Iterable<string>, choice: RouterChoice): RouterApi {
  if (choice.kind === "smi" && choice.version) return { kind: "smi", version: choice.version };
  if (choice.kind === "httproute" && choice.group)
    return { kind: "httproute", api: httpRouteApiFor(choice.group) };

  const served = new Set(servedGroupVersions);
  const smiVersion = SMI_VERSIONS.find((version) => served.has(`${SMI_GROUP}/${version}`));
  const routeApi = HTTPROUTE_APIS.find((api) => served.has(`${api.group}/${api.version}`));
  if (choice.kind !== "httproute" && smiVersion) return { kind: "smi", version: smiVersion };
  if (choice.kind !== "smi" && routeApi) return { kind: "httproute", api: routeApi };

  const lookedFor = [
    ...(choice.kind !== "httproute"
      ? [`TrafficSplit (${TRAFFIC_SPLIT_PLURAL}) in ${SMI_CANDIDATES.join(", ")}`]
      : []),
    ...(choice.kind !== "smi"
      ? [`HTTPRoute (${HTTPROUTE_PLURAL}) in ${HTTPROUTE_CANDIDATES.join(", ")}`]
      : []),
  ];
  return noneServed(lookedFor);
}

function noneServed(lookedFor: string[]): never {
  throw new Error(
    `the cluster serves no traffic API serin can steer: looked for ${lookedFor.join("; then ")}. ` +
      "Install linkerd-smi, the SMI TrafficSplit CRD or an HTTPRoute CRD, or configure the router explicitly",
  );
}

/**
 * The candidate group-versions the cluster serves, each checked for the route resource itself (a group
 * such as policy.linkerd.io serves other kinds under the same versions).
 */
async function discoverRouteGroupVersions(kc: KubeConfig): Promise<Set<string>> {
  const groups = (await kc.makeApiClient(ApisApi).getAPIVersions()).groups;
  const listed = new Set(groups.flatMap((group) => group.versions.map((version) => version.groupVersion)));
  const candidates = [
    ...SMI_VERSIONS.map((version) => ({ group: SMI_GROUP, version, plural: TRAFFIC_SPLIT_PLURAL })),
    ...HTTPROUTE_APIS.map((api) => ({ ...api, plural: HTTPROUTE_PLURAL })),
  ].filter(({ group, version }) => listed.has(`${group}/${version}`));

  const objects = kc.makeApiClient(CustomObjectsApi);
  const served = await Promise.all(
    candidates.map(async ({ group, version, plural }) => {
      try {
        const resources = await objects.getAPIResources({ group, version });
        return resources.resources.some((resource) => resource.name === plural)
          ? `${group}/${version}`
          : undefined;
      } catch (error) {
        // Removed between the two reads: not served.
        if (apiErrorCode(error) === 404) return undefined;
        throw error;
      }
    }),
  );
  return new Set(served.filter((groupVersion) => groupVersion !== undefined));
}

/** The router for `choice`, asking the cluster only when the choice leaves the API or version open. */
export async function createRouter(kc: KubeConfig, choice: RouterChoice): Promise<Router> {
  const decided =
    (choice.kind === "smi" && choice.version !== undefined) ||
    (choice.kind === "httproute" && choice.group !== undefined);
  const served = decided ? [] : await discoverRouteGroupVersions(kc);
  const api = chooseRouterApi(served, choice);
  const objects = kc.makeApiClient(CustomObjectsApi);
  return api.kind === "smi" ? new SmiRouter(objects, api.version) : new HttpRouteRouter(objects, api.api);
}
