import type { Plan } from "./actions.js";

/** What serin finds it still owns for a Deployment that is gone. */
export interface Leftovers {
  /** `<name>-canary` is still there. */
  canary: boolean;
  /** Apex Services whose track Services (and so, split) serin made for the Deployment. */
  services: string[];
}

/**
 * The Deployment was deleted. The garbage collector removes what carries its ownerReference; serin
 * removes it too, so that nothing is left where no collector runs. Only what serin owns is named here.
 */
export function planDeleted(leftovers: Leftovers): Plan {
  return {
    actions: [
      ...(leftovers.canary ? [{ type: "deleteCanary" } as const] : []),
      ...leftovers.services.map((service) => ({ type: "removeRouting", service }) as const),
    ],
  };
}
