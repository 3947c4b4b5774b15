// `serin list [-n NS | -A] [-o wide|json|yaml] [--watch]`: every enabled Deployment and where its
// canary is. --watch follows the three collections with WATCHes: on a terminal the table is redrawn in
// place; elsewhere each canary that changed is printed again (a row, or one JSON or YAML document).
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { ENABLED_LABEL, ENABLED_VALUE } from "../contract/keys.js";
import { OWNER_LABEL } from "../plan/objects.js";
import { ask, joinCanaries, listCanaries, routerFor, SERIN_EVENTS, splitCollection } from "./canary-read.js";
import type { CanaryView } from "./canary-view.js";
import type { Cluster } from "./cluster.js";
import { followCollections } from "./follow.js";
import {
  alignColumns,
  canaryItem,
  listJson,
  listTable,
  listYaml,
  type OutputFormat,
  sortCanaries,
  tableRows,
} from "./list-format.js";
import { InPlace, type Screen } from "./screen.js";

export interface ListOptions {
  output?: OutputFormat;
  watch?: boolean;
  screen?: Screen;
  /** Where "No canaries found" goes (stderr), as kubectl says "No resources found". */
  notes?: Screen;
}

function where(cluster: Cluster): string {
  return cluster.allNamespaces ? "any namespace" : `namespace ${cluster.namespace}`;
}

function render(views: readonly CanaryView[], output: OutputFormat | undefined, now: Date): string {
  if (output === "json") return listJson(views);
  if (output === "yaml") return listYaml(views);
  return listTable(views, now, output === "wide");
}

export async function runList(cluster: Cluster, options: ListOptions): Promise<void> {
  const screen = options.screen ?? process.stdout;
  const notes = options.notes ?? process.stderr;
  const router = await routerFor(cluster);
  if (!options.watch) {
    const views = await listCanaries(cluster, router);
    if (views.length === 0 && (options.output === undefined || options.output === "wide")) {
      notes.write(`No canaries found in ${where(cluster)}.\n`);
    }
    screen.write(render(views, options.output, new Date()));
    return;
  }

  const namespace = cluster.allNamespaces ? undefined : cluster.namespace;
  const scope = namespace === undefined ? "" : `/namespaces/${namespace}`;
  const inPlace = screen.isTTY && !options.output?.match(/json|yaml/) ? new InPlace(screen) : undefined;
  const printed = new Map<string, string>();
  let headerPrinted = false;
  let latest: CanaryView[] | undefined;
  const draw = () => {
    if (!latest) return;
    const now = new Date();
    if (inPlace) {
      inPlace.draw(render(latest, options.output, now) || `No canaries found in ${where(cluster)}.\n`);
      return;
    }
    // Appended output: each canary again when anything but its age changed.
    const rows = tableRows(latest, now, options.output === "wide");
    const sorted = sortCanaries(latest);
    const changed = sorted.flatMap((view, index) => {
      const item = canaryItem(view);
      const { since: _since, ...rest } = item;
      const key = `${view.namespace}/${view.name}`;
      const signature = JSON.stringify(rest);
      if (printed.get(key) === signature) return [];
      printed.set(key, signature);
      return [{ item, index }];
    });
    if (changed.length === 0) return;
    if (options.output === "json") {
      for (const { item } of changed) screen.write(`${JSON.stringify(item)}\n`);
    } else if (options.output === "yaml") {
      for (const { item } of changed) screen.write(`---\n${stringify(item)}`);
    } else {
      const aligned = alignColumns(rows).split("\n");
      const lines = changed.map(({ index }) => aligned[index + 1] ?? "");
      if (!headerPrinted) lines.unshift(aligned[0] ?? "");
      headerPrinted = true;
      screen.write(`${lines.join("\n")}\n`);
    }
  };
  const ticker = inPlace ? setInterval(draw, 1_000) : undefined;
  try {
    await ask(cluster, () =>
      followCollections(
        cluster.config,
        [
          { path: `/apis/apps/v1${scope}/deployments`, labelSelector: `${ENABLED_LABEL}=${ENABLED_VALUE}` },
          { path: splitCollection(router, namespace), labelSelector: OWNER_LABEL },
          { path: `/api/v1${scope}/events`, fieldSelector: SERIN_EVENTS },
        ],
        ([deployments, splits, events]) => {
          latest = joinCanaries(
            router,
            [...(deployments?.values() ?? [])] as V1Deployment[],
            [...(splits?.values() ?? [])] as KubernetesObject[],
            [...(events?.values() ?? [])],
          );
          draw();
          return false;
        },
      ),
    );
  } finally {
    if (ticker) clearInterval(ticker);
  }
}
