import {
  HTTPROUTE_PLURAL,
  type HttpRoute,
  type HttpRouteApi,
  httpRouteBody,
  readHttpRouteWeights,
  repairHttpRoute,
} from "./httproute.js";
import { type CustomObjects, ObjectRouter } from "./object-router.js";

/**
 * Steers traffic with an HTTPRoute attached to the apex Service: Gateway API's
 * (gateway.networking.k8s.io/v1) or Linkerd's (policy.linkerd.io/v1beta3).
 */
export class HttpRouteRouter extends ObjectRouter {
  constructor(
    objects: CustomObjects,
    readonly routeApi: HttpRouteApi,
  ) {
    super(objects, {
      api: `HTTPRoute ${routeApi.group}/${routeApi.version}`,
      group: routeApi.group,
      version: routeApi.version,
      plural: HTTPROUTE_PLURAL,
      build: (target, weights) => httpRouteBody(target, weights, routeApi),
      repair: (existing, target, weights) =>
        repairHttpRoute(existing as HttpRoute, target, weights, routeApi),
      read: (existing, target) => readHttpRouteWeights(existing, target),
    });
  }
}
