// One abort trial and the floors measured beside it: `serin.dev/action=abort` set by a JSON merge PATCH,
// timed until a WATCH on trafficsplits delivers the split at stable 100%; `retry` to bring the canary back
// to its first step; a plain PATCH round trip, and a PATCH of a TrafficSplit nobody owns to its WATCH event.
import type { AppsV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { readTrafficSplitWeights } from "../../src/routers/smi.js";
import { mergePatch } from "../../src/watch/kube.js";
import { type Meta, type WatchedEvents, wallNow } from "./watched-events.js";

export const SPLIT = { group: "split.smi-spec.io", version: "v1alpha4", plural: "trafficsplits" } as const;
const ACTION = "serin.dev/action";
/** The annotation the floors write, a trial's mark as its value. */
const TRIAL = "bench.serin.dev/trial";

export interface Target {
  namespace: string;
  name: string;
}

export interface TrialClients {
  apps: AppsV1Api;
  objects: CustomObjectsApi;
  /** A WATCH that sees the targets' TrafficSplits and the floor split. */
  splits: WatchedEvents;
  /** A WATCH that sees the targets' Deployments. */
  deployments: WatchedEvents;
}

const is = (target: Target) => (object: Meta) =>
  object.metadata?.name === target.name && object.metadata?.namespace === target.namespace;

export const splitAt = (target: Target, canaryWeight: number) => (object: Meta) =>
  is(target)(object) && readTrafficSplitWeights(object).canary === canaryWeight;

/** The Deployment shows `phase` (at `weight` percent, when given) and the one-shot action has been consumed. */
export const phaseIs = (target: Target, phase: string, weight?: number) => (object: Meta) => {
  const labels = object.metadata?.labels ?? {};
  return (
    is(target)(object) &&
    labels["serin.dev/phase"] === phase &&
    (weight === undefined || labels["serin.dev/weight"] === String(weight)) &&
    object.metadata?.annotations?.[ACTION] === undefined
  );
};

/** A TrafficSplit no Deployment owns: the watcher never writes it, so its events are the bench's alone. */
export function floorSplit(target: Target) {
  return {
    apiVersion: `${SPLIT.group}/${SPLIT.version}`,
    kind: "TrafficSplit",
    metadata: { name: target.name, namespace: target.namespace },
    spec: {
      service: target.name,
      backends: [
        { service: `${target.name}-stable`, weight: 10_000 },
        { service: `${target.name}-canary`, weight: 0 },
      ],
    },
  };
}

/** Waits that are awaited later, or never when the PATCH fails: their rejection must not go unhandled. */
function handled(...waits: Promise<unknown>[]): void {
  for (const wait of waits) wait.catch(() => undefined);
}

/** The target's name and what the watches saw of it last: a waiter's message says where it stood. */
function describe(clients: TrialClients, target: Target): string {
  const deployment = clients.deployments.lastSeen(target.namespace, target.name)?.metadata;
  const split = clients.splits.lastSeen(target.namespace, target.name);
  const labels = deployment?.labels ?? {};
  return (
    `${target.namespace}/${target.name} (last seen: phase ${labels["serin.dev/phase"]}, weight ` +
    `${labels["serin.dev/weight"]}, action ${deployment?.annotations?.[ACTION] ?? "none"}, split canary ` +
    `${split ? readTrafficSplitWeights(split).canary : "none"})`
  );
}

const annotate = (mark: string) => ({ metadata: { annotations: { [TRIAL]: mark } } });

/** PATCH of an annotation on a Deployment serin does not watch: the response time, ms. */
export async function timePatchFloor(clients: TrialClients, target: Target, mark: string): Promise<number> {
  const sent = wallNow();
  await clients.apps.patchNamespacedDeployment({ ...target, body: annotate(mark) }, mergePatch);
  return wallNow() - sent;
}

/** PATCH of an annotation on the floor split -> its WATCH event, ms. */
export async function timeWatchFloor(clients: TrialClients, target: Target, mark: string): Promise<number> {
  const seen = clients.splits.next(
    (object) => is(target)(object) && object.metadata?.annotations?.[TRIAL] === mark,
    `floor split ${target.namespace}/${target.name} annotated ${mark}`,
  );
  handled(seen);
  const sent = wallNow();
  await clients.objects.patchNamespacedCustomObject(
    { ...SPLIT, ...target, body: annotate(mark) },
    mergePatch,
  );
  return (await seen) - sent;
}

const setAction = (clients: TrialClients, target: Target, action: string) =>
  clients.apps.patchNamespacedDeployment(
    { ...target, body: { metadata: { annotations: { [ACTION]: action } } } },
    mergePatch,
  );

export interface AbortTiming {
  /** The abort PATCH's own round trip (it goes through serin's webhook), ms. */
  response: number;
  /** PATCH sent -> the split at canary 0 on the WATCH, ms. */
  latency: number;
  /** Wall-clock ms at send and at the event. */
  sentAt: number;
  seenAt: number;
}

/** Aborts the canary of `target`, then waits until its Deployment says Aborted with the action consumed. */
export async function timeAbort(
  clients: TrialClients,
  target: Target,
  timeoutMs: number,
): Promise<AbortTiming> {
  // Waiters first: the events may arrive before the PATCH's own response.
  const stable = clients.splits.next(
    splitAt(target, 0),
    () => `${describe(clients, target)} at stable 100%`,
    timeoutMs,
  );
  const aborted = clients.deployments.next(
    phaseIs(target, "Aborted", 0),
    () => `${describe(clients, target)} Aborted`,
    timeoutMs,
  );
  handled(stable, aborted);
  const sentAt = wallNow();
  await setAction(clients, target, "abort");
  const response = wallNow() - sentAt;
  const seenAt = await stable;
  await aborted;
  return { response, latency: seenAt - sentAt, sentAt, seenAt };
}

/**
 * `retry`: the canary starts again from its first step. Resolves once the split is back at `canaryWeight`
 * and the Deployment says Progressing with the action consumed.
 */
export async function rearm(
  clients: TrialClients,
  target: Target,
  canaryWeight: number,
  timeoutMs: number,
): Promise<number> {
  const back = clients.splits.next(
    splitAt(target, canaryWeight),
    () => `${describe(clients, target)} back at ${canaryWeight}`,
    timeoutMs,
  );
  const progressing = clients.deployments.next(
    phaseIs(target, "Progressing"),
    () => `${describe(clients, target)} Progressing`,
    timeoutMs,
  );
  handled(back, progressing);
  const sent = wallNow();
  await setAction(clients, target, "retry");
  const at = await back;
  await progressing;
  return at - sent;
}
