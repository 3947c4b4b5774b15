// Following one canary live: WATCHes on the Deployment and on its traffic split, so that no phase or
// weight passes unseen however short it lasts (polling misses a promotion that takes 100 ms).
import { type KubeConfig, type V1Deployment, Watch } from "@kubernetes/client-node";

export interface FollowedCanary {
  deployment: V1Deployment;
  /** The traffic split as last seen, when there is one. */
  split: unknown;
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
 * Calls `onChange` with the latest Deployment and split after every event of either, until it returns
 * true (done) or `timeoutMs` passes (rejects).
 */
export function followCanary(
  config: KubeConfig,
  target: FollowTarget,
  onChange: (seen: FollowedCanary) => boolean,
  timeoutMs: number,
): Promise<void> {
  const watch = new Watch(config);
  let deployment: V1Deployment | undefined;
  let split: unknown;
  return new Promise<void>((resolve, reject) => {
    const requests: { abort(): void }[] = [];
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const request of requests) request.abort();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`${target.namespace}/${target.name} did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const changed = () => {
      if (deployment && !finished && onChange({ deployment, split })) finish();
    };
    const ended = (what: string) => (error: unknown) => {
      if (!finished) finish(new Error(`the watch on ${what} ended: ${error ? String(error) : "closed"}`));
    };
    const start = (path: string, name: string, seen: (object: unknown) => void) =>
      watch
        .watch(
          path,
          { fieldSelector: `metadata.name=${name}` },
          (type: string, object: unknown) => {
            seen(type === "DELETED" ? undefined : object);
            changed();
          },
          ended(path),
        )
        .then((request) => {
          if (finished) request.abort();
          else requests.push(request);
        }, finish);
    start(`/apis/apps/v1/namespaces/${target.namespace}/deployments`, target.name, (object) => {
      deployment = object as V1Deployment | undefined;
    });
    start(target.splitCollection, target.splitName, (object) => {
      split = object;
    });
  });
}
