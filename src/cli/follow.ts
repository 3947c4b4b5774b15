// Following canaries live: WATCHes on the Deployments, their traffic splits and serin's Events, so that
// no phase or weight passes unseen however short it lasts (polling misses a promotion that takes 100 ms).
// A watch the apiserver closes (it does, every 30 to 60 minutes) is resumed from the last version seen.
import type { CoreV1Event, KubeConfig, KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { Watch } from "@kubernetes/client-node";
import { CliError } from "./exit.js";

/** One collection to watch: its path and the selectors that narrow it. */
export interface WatchedCollection {
  /** e.g. /apis/apps/v1/namespaces/shop/deployments, or /apis/apps/v1/deployments for every namespace. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** `followCollections` gave up waiting: its `timeoutMs` passed first. */
export class FollowTimeout extends Error {}

/** client-node's watch reports an HTTP status as `statusCode`; its API calls as `code`, which errors are read by. */
function watchFailure(error: unknown): Error {
  const failure = error instanceof Error ? error : new Error(String(error));
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number") Object.assign(failure, { code: status });
  return failure;
}

/** How many times in a row a watch may fail to resume before following gives up. */
const RESUME_ATTEMPTS = 5;
const RESUME_DELAY_MS = 1_000;

/**
 * Watches every collection and calls `onChange` with what each holds now (objects by namespace/name)
 * after each event, until it returns true (resolves), `timeoutMs` passes (rejects with FollowTimeout) or
 * a watch cannot be resumed (rejects). `onChange` is first called once every collection has sent its
 * current objects, and then at every change.
 */
export function followCollections(
  config: KubeConfig,
  collections: readonly WatchedCollection[],
  onChange: (seen: ReadonlyMap<string, KubernetesObject>[]) => boolean,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<void> {
  const watch = new Watch(config);
  const seen = collections.map(() => new Map<string, KubernetesObject>());
  return new Promise<void>((resolve, reject) => {
    const requests = new Set<AbortController>();
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(settleTimer);
      for (const request of requests) request.abort();
      if (error) reject(error);
      else resolve();
    };
    const timer =
      timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => finish(new FollowTimeout(`did not finish within ${timeoutMs} ms`)), timeoutMs);
    // A new watch starts with an ADDED event per object: the first call waits until that burst is over.
    let settled = false;
    const settleTimer = setTimeout(() => {
      settled = true;
      changed();
    }, 200);
    const changed = () => {
      if (finished || !settled) return;
      try {
        if (onChange(seen)) finish();
      } catch (error) {
        finish(error as Error);
      }
    };

    const start = (index: number, resourceVersion: string | undefined, failures: number) => {
      const collection = collections[index] as WatchedCollection;
      const objects = seen[index] as Map<string, KubernetesObject>;
      let version = resourceVersion;
      let gone = false;
      let heard = false;
      let request: AbortController | undefined;
      const ended = (error: unknown) => {
        if (request) requests.delete(request);
        if (finished) return;
        // The first connection failing is an answer (no rights, no cluster); later ones are retried.
        if (error && first && !heard) {
          finish(watchFailure(error));
          return;
        }
        if (error && !heard && failures + 1 >= RESUME_ATTEMPTS) {
          finish(new Error(`the watch on ${collection.path} could not be resumed: ${String(error)}`));
          return;
        }
        // 410 Gone: the version is too old to resume from; start afresh from what is there now.
        if (gone) {
          objects.clear();
          version = undefined;
        }
        const next = error && !heard ? failures + 1 : 0;
        setTimeout(() => start(index, version, next), error ? RESUME_DELAY_MS : 0);
      };
      const first = resourceVersion === undefined && failures === 0 && !everStarted[index];
      everStarted[index] = true;
      void watch
        .watch(
          collection.path,
          {
            allowWatchBookmarks: true,
            ...(collection.labelSelector ? { labelSelector: collection.labelSelector } : {}),
            ...(collection.fieldSelector ? { fieldSelector: collection.fieldSelector } : {}),
            ...(version ? { resourceVersion: version } : {}),
          },
          (type: string, object: KubernetesObject & { code?: number }) => {
            heard = true;
            if (type === "ERROR") {
              if (object.code === 410) gone = true;
              request?.abort();
              return;
            }
            version = object.metadata?.resourceVersion ?? version;
            if (type === "BOOKMARK") return;
            const key = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
            if (type === "DELETED") objects.delete(key);
            else objects.set(key, object);
            changed();
          },
          (error: unknown) => ended(gone ? null : error),
        )
        .then(
          (controller) => {
            if (finished) controller.abort();
            else {
              request = controller;
              requests.add(controller);
            }
          },
          (error: unknown) => ended(error ?? new Error("the watch could not start")),
        );
    };
    const everStarted = collections.map(() => false);
    for (const index of collections.keys()) start(index, undefined, 0);
  });
}

export interface FollowedCanary {
  deployment: V1Deployment;
  /** The traffic split as last seen, when there is one. */
  split: KubernetesObject | undefined;
  /** The Events on the Deployment, in no particular order. */
  events: CoreV1Event[];
}

export interface FollowTarget {
  namespace: string;
  name: string;
  /** The collection path of the split's API, e.g. /apis/split.smi-spec.io/v1alpha2/namespaces/NS/trafficsplits. */
  splitCollection: string;
  /** The split's name (the apex Service). */
  splitName: string;
}

/**
 * Calls `onChange` with the latest Deployment, split and Events after every event of any, until it
 * returns true (done) or `timeoutMs` passes (rejects with FollowTimeout). A Deployment deleted while
 * followed ends it with an error.
 */
export function followCanary(
  config: KubeConfig,
  target: FollowTarget,
  onChange: (seen: FollowedCanary) => boolean,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<void> {
  let present = false;
  return followCollections(
    config,
    [
      {
        path: `/apis/apps/v1/namespaces/${target.namespace}/deployments`,
        fieldSelector: `metadata.name=${target.name}`,
      },
      { path: target.splitCollection, fieldSelector: `metadata.name=${target.splitName}` },
      {
        path: `/api/v1/namespaces/${target.namespace}/events`,
        fieldSelector: `involvedObject.kind=Deployment,involvedObject.name=${target.name}`,
      },
    ],
    ([deployments, splits, events]) => {
      const deployment = deployments?.get(`${target.namespace}/${target.name}`) as V1Deployment | undefined;
      if (!deployment) {
        if (present) throw new CliError(`deployment ${target.namespace}/${target.name} was deleted`);
        return false;
      }
      present = true;
      return onChange({
        deployment,
        split: splits?.get(`${target.namespace}/${target.splitName}`),
        events: [...(events?.values() ?? [])] as CoreV1Event[],
      });
    },
    timeoutMs,
  );
}
