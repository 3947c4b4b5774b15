import type { RouteTarget } from "./router.js";

/** A RouteTarget as the watcher builds one for the Deployment shop/web, for unit tests of the routers. */
export function routeTarget(overrides: Partial<RouteTarget> = {}): RouteTarget {
  const service = overrides.service ?? "web";
  return {
    namespace: "shop",
    service,
    stableService: `${service}-stable`,
    canaryService: `${service}-canary`,
    port: 8080,
    owner: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "web",
      uid: "0b7f3c9e-5d1a-4c61-9d0e-6f2b8f1a2c33",
      controller: true,
      blockOwnerDeletion: true,
    },
    labels: { "app.kubernetes.io/managed-by": "serin" },
    ...overrides,
  };
}
