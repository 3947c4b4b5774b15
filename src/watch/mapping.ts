import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { apexServiceOf } from "../contract/deployment.js";
import { UserKey } from "../contract/keys.js";
import { OWNER_LABEL } from "../plan/objects.js";

/**
 * Which Deployments to reconcile when an object changes: pure functions from a watch event to queue
 * keys ("namespace/name"). Handlers enqueue keys, never objects.
 */

export const keyOf = (namespace: string | undefined, name: string | undefined) =>
  `${namespace ?? ""}/${name ?? ""}`;

/** An object serin made for a Deployment (canary, track Service, split) names it in its owner label. */
export function ownerKeys(object: KubernetesObject): string[] {
  const owner = object.metadata?.labels?.[OWNER_LABEL];
  return owner ? [keyOf(object.metadata?.namespace, owner)] : [];
}

/**
 * A Service or a split: its owner, or, for a user's apex Service (or a split someone else made), every
 * enabled Deployment of the namespace that routes through that name.
 */
export function routingKeys(object: KubernetesObject, enabledInNamespace: readonly V1Deployment[]): string[] {
  const owned = ownerKeys(object);
  const name = object.metadata?.name;
  const through = enabledInNamespace
    .filter((deployment) => apexServiceOf(deployment) === name)
    .map((deployment) => keyOf(deployment.metadata?.namespace, deployment.metadata?.name));
  return [...new Set([...owned, ...through])];
}

/** A stable slot in 0..slots-1 for a key, so that resyncs spread evenly over the period. */
export function resyncSlot(key: string, slots: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % slots;
}

/**
 * What a user changes on a Deployment that serin must answer at once: its spec (a new template, a
 * scale; the generation counts it), the action annotation, and its deletion. serin's own writes there
 * (labels, status) leave this unchanged.
 */
export function userInputsOf(deployment: V1Deployment): string {
  const { generation, annotations, deletionTimestamp } = deployment.metadata ?? {};
  return JSON.stringify([generation, annotations?.[UserKey.action], deletionTimestamp !== undefined]);
}
