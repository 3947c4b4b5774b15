import { rename, writeFile } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import type { BackendNames } from "../routers/route-object.js";
import type { Weights } from "../routers/router.js";
import { keepWatching } from "./keep-watching.js";
import type { Behaviour } from "./proxy-counters.js";
import { type Draws, evenDraws, noisyDraws } from "./sampling.js";
import { type AppHistory, type RoutedApp, TrafficModel } from "./traffic-model.js";

/**
 * Metrics shaped exactly like the Linkerd proxy's (`request_total`, `response_total`,
 * `response_latency_ms`, with the labels a proxy and linkerd-viz's scrape put on them), served for a
 * real Prometheus to scrape. The traffic behind them is MODELLED: no mesh, no proxy and no client run
 * here (see traffic-model.ts). An app's requests follow the weights of its traffic split, read from a
 * WATCH, so moving a weight moves the traffic at once, as a mesh would; a test may also give one
 * Deployment a fixed rate of its own.
 */
export interface Traffic {
  requestsPerSecond: number;
  /** Share of responses classified "success", 0..1. */
  successRatio: number;
  /** Every response takes this long. */
  latencyMs: number;
}

/** A kind of split to follow: its collection's path for a WATCH, and how to read its two weights. */
export interface RouteWatch {
  /** e.g. `/apis/split.smi-spec.io/v1alpha4/trafficsplits` (every namespace). */
  path: string;
  read(object: unknown, names: BackendNames): Weights;
  /**
   * Whether this WATCH carries the splits of a namespace (default: every one). Each served version of a
   * CRD lists every object: when two WATCHes of different versions follow different controllers, each
   * takes its own namespaces, or their events, interleaved, would move the traffic back and forth.
   */
  accepts?(namespace: string): boolean;
}

export interface LinkerdMetricsOptions {
  /** Where the splits are watched; needed for apps (not for fixed-rate Deployments). */
  kubeConfig?: KubeConfig;
  routes?: readonly RouteWatch[];
  /**
   * Where to keep a Prometheus file_sd list of one target per modelled pod (`/pods/NS/DEPLOYMENT/metrics`
   * on this server), as linkerd-viz scrapes every proxy on its own: many small scrapes spread over the
   * interval, instead of one of tens of MB.
   */
  podTargetsFile?: string;
  /** Poisson arrivals and random outcomes from this seed; without it the traffic is even and exact. */
  seed?: number;
  clock?: () => number;
}

export interface LinkerdMetrics {
  /** host:port for Prometheus' static_configs. */
  target: string;
  /** One Deployment served at a fixed rate, whatever any split says. */
  setTraffic(namespace: string, deployment: string, traffic: Traffic): void;
  /** An app whose traffic follows its split from now on. */
  addApp(app: RoutedApp): void;
  setBehaviour(namespace: string, deployment: string, behaviour: Behaviour): void;
  removeApp(namespace: string, service: string): void;
  history(namespace: string, service: string): AppHistory | undefined;
  /** Route objects received on the WATCHes so far (to tell a quiet model from a deaf one). */
  routeEvents(): number;
  stop(): Promise<void>;
}

/** Modelled pods whose series are sent before the server lets other work run. */
const SCRAPE_BATCH = 25;

/** A constant latency, in the model's terms. */
export const constantLatency = (ms: number) => ({ medianMs: ms, p99Ms: ms });

interface Meta {
  metadata?: { name?: string; namespace?: string };
}

export async function startLinkerdMetrics(options: LinkerdMetricsOptions = {}): Promise<LinkerdMetrics> {
  const clock = options.clock ?? Date.now;
  const { seed } = options;
  let drawn = 0;
  const drawsFor = (): Draws => {
    drawn += 1;
    return seed === undefined ? evenDraws() : noisyDraws(seed * 1_000_003 + drawn);
  };
  const model = new TrafficModel(drawsFor);
  /** The latest route object seen per namespace/name, for apps added after their split. */
  const latest = new Map<string, { watch: RouteWatch; object: unknown }>();
  let events = 0;

  const apply = (watch: RouteWatch, object: unknown, deleted: boolean) => {
    const { namespace = "", name = "" } = (object as Meta).metadata ?? {};
    const app = model.app(namespace, name);
    if (!app) return;
    const names = { stableService: app.stable.backend, canaryService: app.canary.backend };
    let weights: Weights | undefined;
    try {
      weights = deleted ? undefined : watch.read(object, names);
    } catch {
      // A split nobody could read routes nothing new: the traffic stays where it was.
      return;
    }
    model.setWeights(namespace, name, weights, clock());
  };

  const stops: (() => void)[] = [];
  if ((options.routes?.length ?? 0) > 0) {
    if (!options.kubeConfig) throw new Error("startLinkerdMetrics: routes need a kubeConfig to watch them");
    for (const route of options.routes ?? []) {
      stops.push(
        await keepWatching(options.kubeConfig, route.path, {}, (type, object) => {
          const { namespace = "", name = "" } = (object as Meta).metadata ?? {};
          if (route.accepts && !route.accepts(namespace)) return;
          events += 1;
          const where = `${namespace}/${name}`;
          if (type === "DELETED") latest.delete(where);
          else latest.set(where, { watch: route, object });
          apply(route, object, type === "DELETED");
        }),
      );
    }
  }

  const server: Server = createServer((req, res) => {
    const pod = /^\/pods\/([^/]+)\/([^/]+)\/metrics$/.exec(req.url ?? "");
    if (pod) {
      const text = model.podExposition(
        decodeURIComponent(pod[1] ?? ""),
        decodeURIComponent(pod[2] ?? ""),
        clock(),
      );
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text ?? "");
      return;
    }
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    void scrape(res);
  });
  /**
   * Sent in parts, yielding between batches: with hundreds of modelled pods the text is tens of MB, and
   * building it in one go would hold up the split WATCH (and so the traffic's moves) for seconds.
   */
  const scrape = async (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    let batch: string[] = [];
    for (const part of model.expositionParts(clock)) {
      batch.push(part);
      if (batch.length < SCRAPE_BATCH) continue;
      if (res.destroyed) return;
      if (!res.write(batch.join("")))
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      batch = [];
      await new Promise((resolve) => setImmediate(resolve));
    }
    res.end(batch.join(""));
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** The pods changed: the file_sd list is written again (to a temporary file, then renamed over). */
  let writing: Promise<void> = Promise.resolve();
  const podsChanged = () => {
    const file = options.podTargetsFile;
    if (!file) return;
    const list = model.pods().map(({ namespace, deployment, podIp }) => ({
      targets: [target],
      labels: {
        __metrics_path__: `/pods/${encodeURIComponent(namespace)}/${encodeURIComponent(deployment)}/metrics`,
        // What linkerd-viz's scrape would call the proxy: its pod's address and admin port.
        instance: `${podIp}:4191`,
      },
    }));
    writing = writing
      .then(async () => {
        await writeFile(`${file}.tmp`, JSON.stringify(list));
        await rename(`${file}.tmp`, file);
      })
      // A list that could not be written leaves Prometheus the previous one; the next change writes again.
      .catch(() => undefined);
  };
  podsChanged();
  await writing;
  return {
    target,
    setTraffic(namespace, deployment, traffic) {
      const known = model.pods().some((pod) => pod.namespace === namespace && pod.deployment === deployment);
      model.setDirect(
        namespace,
        deployment,
        traffic.requestsPerSecond,
        { successRatio: traffic.successRatio, latency: constantLatency(traffic.latencyMs) },
        clock(),
      );
      if (!known) podsChanged();
    },
    addApp(app) {
      model.addApp(app, clock());
      podsChanged();
      const seen = latest.get(`${app.namespace}/${app.service}`);
      if (seen) apply(seen.watch, seen.object, false);
    },
    setBehaviour: (namespace, deployment, behaviour) =>
      model.setBehaviour(namespace, deployment, behaviour, clock()),
    removeApp(namespace, service) {
      model.removeApp(namespace, service);
      podsChanged();
    },
    history: (namespace, service) => model.history(namespace, service, clock()),
    routeEvents: () => events,
    async stop() {
      for (const stop of stops) stop();
      await writing;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
