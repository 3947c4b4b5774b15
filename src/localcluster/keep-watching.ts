import { type KubeConfig, Watch } from "@kubernetes/client-node";

/**
 * A WATCH of a collection that starts again, with a fresh list, whenever the apiserver ends it (or the
 * first attempt fails): for the traffic model and the benchmarks, which must not go deaf mid-run. Each
 * event goes to `onEvent`; the returned function stops it.
 */
export async function keepWatching(
  config: KubeConfig,
  path: string,
  query: Record<string, string>,
  onEvent: (type: string, object: unknown) => void,
): Promise<() => void> {
  let stopped = false;
  let controller: AbortController | undefined;
  const again = (ms: number) => {
    if (!stopped) setTimeout(() => void start(), ms).unref();
  };
  const start = async (): Promise<void> => {
    try {
      controller = await new Watch(config).watch(path, query, onEvent, () => again(200));
    } catch {
      again(1_000);
    }
  };
  await start();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
