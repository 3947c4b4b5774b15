// `serin status NAME [--watch]`: one look, or a live view followed with WATCHes until the canary ends.
// On a terminal the view is redrawn in place (and its clocks tick); elsewhere (a CI log, a pipe) each
// change is one plain line, and each new Event another.
import type { KubernetesObject } from "@kubernetes/client-node";
import { formatDuration } from "../contract/duration.js";
import {
  ask,
  readEnabledDeployment,
  readSplit,
  routerFor,
  splitCollection,
  splitViewOf,
} from "./canary-read.js";
import {
  actionCommands,
  type CanaryView,
  clock,
  describeStatus,
  type EventView,
  eventViews,
  formatRows,
  serviceOf,
  statusLine,
  statusRows,
  viewOf,
} from "./canary-view.js";
import type { Cluster } from "./cluster.js";
import { CliError, ExitCode } from "./exit.js";
import { FollowTimeout, followCanary } from "./follow.js";
import { InPlace, indent, type Screen } from "./screen.js";

/** `serin status NAME`: the lines of describeStatus, once. */
export async function showStatus(
  cluster: Cluster,
  name: string,
  screen: Screen = process.stdout,
): Promise<void> {
  const router = await routerFor(cluster);
  const deployment = await readEnabledDeployment(cluster, name);
  const split = await readSplit(cluster, router, deployment);
  screen.write(describeStatus(deployment, split, splitViewOf(router, deployment, split)));
}

/** How a followed canary ended, for the exit code: undefined while it has not. */
function ending(view: CanaryView): "succeeded" | "aborted" | undefined {
  // An action not yet acted on is about to change the phase (retry of an Aborted canary, for one).
  if (view.action) return undefined;
  if (view.phase === "Succeeded" || view.phase === "Idle") return "succeeded";
  if (view.phase === "Aborted") return "aborted";
  return undefined;
}

export interface WatchOptions {
  /** How the commands to act are spelled: "serin" or "kubectl serin". */
  program: string;
  /** Give up after this long (FollowTimeout); default never. */
  timeoutMs?: number;
  /** Events already printed as plain lines (the demo follows the same Deployment several times). */
  printedEvents?: Set<string>;
  /** When to stop following; default when the canary has ended (see `ending`). */
  until?: (view: CanaryView) => boolean;
  screen?: Screen;
}

/** Plain lines: the status when it changed, and each Event not printed yet. */
class Lines {
  private last = "";
  private started = false;

  constructor(
    private readonly output: Screen,
    private readonly program: string,
    private readonly printed: Set<string>,
  ) {}

  private readonly screen = { write: (text: string) => this.output.write(indent(this.output, text)) };

  draw(view: CanaryView, now: Date): void {
    const key = (event: EventView) => `${event.at} ${event.reason} ${event.message}`;
    // The history before we started: only the latest few.
    const fresh = view.events.filter((event) => !this.printed.has(key(event)));
    for (const event of this.started ? fresh : fresh.slice(-5)) {
      this.screen.write(`${clock(event.at)} event ${event.reason}: ${event.message}\n`);
    }
    for (const event of view.events) this.printed.add(key(event));
    const line = statusLine(view);
    if (line !== this.last) this.screen.write(`${clock(now.toISOString())} ${line}\n`);
    this.last = line;
    if (!this.started) {
      for (const [command, what] of actionCommands(view, this.program)) {
        this.screen.write(`    to act: ${command}   ${what}\n`);
      }
    }
    this.started = true;
  }
}

/**
 * Follows one canary until `until` says so (by default, until it has ended); returns the view last
 * shown. Errors: CliError for the cluster's refusals, FollowTimeout past `timeoutMs`.
 */
export async function watchStatus(
  cluster: Cluster,
  name: string,
  options: WatchOptions,
): Promise<CanaryView> {
  const screen = options.screen ?? process.stdout;
  const until = options.until ?? ((view: CanaryView) => ending(view) !== undefined);
  const router = await routerFor(cluster);
  const first = await readEnabledDeployment(cluster, name);
  const inPlace = screen.isTTY ? new InPlace(screen) : undefined;
  const lines = screen.isTTY
    ? undefined
    : new Lines(screen, options.program, options.printedEvents ?? new Set());
  let latest: CanaryView | undefined;
  const draw = () => {
    if (!latest) return;
    const now = new Date();
    if (inPlace) inPlace.draw(formatRows(statusRows(latest, { live: true, now, program: options.program })));
    else lines?.draw(latest, now);
  };
  // The clocks of the view tick on a terminal; a log gets a line only when something changed.
  const ticker = inPlace ? setInterval(draw, 1_000) : undefined;
  try {
    await ask(cluster, () =>
      followCanary(
        cluster.config,
        {
          namespace: cluster.namespace,
          name,
          splitCollection: splitCollection(router, cluster.namespace),
          splitName: serviceOf(first),
        },
        ({ deployment, split, events }) => {
          const seen = split as KubernetesObject | undefined;
          latest = viewOf(deployment, seen, splitViewOf(router, deployment, seen), eventViews(events));
          draw();
          return until(latest);
        },
        options.timeoutMs,
      ).catch((error: unknown) => {
        // A timeout is not the cluster's error: let it through as it is.
        if (error instanceof FollowTimeout) {
          const where = latest?.phase ? `still ${latest.phase}` : "not reconciled yet";
          throw new CliError(
            `deployment ${cluster.namespace}/${name}: ${where} after ${formatDuration(options.timeoutMs ?? 0)}`,
            ExitCode.timeout,
          );
        }
        throw error;
      }),
    );
  } finally {
    if (ticker) clearInterval(ticker);
  }
  return latest as CanaryView;
}

/**
 * `serin status NAME --watch`: exit 0 once the canary has Succeeded (or there is nothing to canary:
 * Idle), 1 once it has been Aborted, 3 when `timeoutMs` runs out first.
 */
export async function followStatus(
  cluster: Cluster,
  name: string,
  options: { program: string; timeoutMs?: number },
): Promise<void> {
  const view = await watchStatus(cluster, name, options);
  if (ending(view) === "aborted") {
    const message = view.message ? `: ${view.message}` : "";
    throw new CliError(`deployment ${cluster.namespace}/${name}: canary Aborted${message}`);
  }
}
