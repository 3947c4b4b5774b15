// The comparison as markdown: one table per figure, apps down the side, each controller setting across.
// Pure: results in, text out.
import { type RollbackResult, type ScaleResult, settingKey } from "./results.js";

const ORDER = ["serin", "flagger", "argo-rollouts"];

interface Column {
  id: string;
  title: string;
  byApps: Map<number, ScaleResult>;
}

const fixed = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || !Number.isFinite(value) ? "n/a" : value.toFixed(digits);

/** One column per controller and worker count, the latest result per N winning. */
function columns(results: readonly ScaleResult[]): Column[] {
  const found = new Map<string, Column>();
  for (const result of results) {
    const extra = (result.extraArgs ?? []).join(" ");
    const id = settingKey(result);
    let column = found.get(id);
    if (!column) {
      const setting =
        `${result.concurrencyFlag} ${result.concurrency}${result.defaultConcurrency ? ", default" : ""}` +
        (extra ? `, ${extra}` : "");
      column = { id, title: `${result.title} (${setting})`, byApps: new Map() };
      found.set(id, column);
    }
    column.byApps.set(result.apps, result);
  }
  return [...found.values()].sort((a, b) => {
    const [ida = "", ca = "0"] = a.id.split(" ");
    const [idb = "", cb = "0"] = b.id.split(" ");
    return ORDER.indexOf(ida) - ORDER.indexOf(idb) || Number(ca) - Number(cb) || a.id.localeCompare(b.id);
  });
}

function table(
  title: string,
  note: string,
  cols: readonly Column[],
  cell: (result: ScaleResult) => string,
): string[] {
  const apps = [...new Set(cols.flatMap((column) => [...column.byApps.keys()]))].sort((a, b) => a - b);
  return [
    `**${title}**${note ? ` ${note}` : ""}`,
    "",
    `| apps | ${cols.map((column) => column.title).join(" | ")} |`,
    `|---|${cols.map(() => "---|").join("")}`,
    ...apps.map((n) => {
      const cells = cols.map((column) => {
        const result = column.byApps.get(n);
        if (!result) return "not run";
        if (result.stalledIn === "setup")
          return `stalled in set-up (${result.readyBeforeShip}/${result.apps} ready in ${result.stallSeconds} s)`;
        const text = cell(result);
        return result.stalled ? `${text} (stalled: ${result.promoted}/${result.apps} promoted)` : text;
      });
      return `| ${n} | ${cells.join(" | ")} |`;
    }),
    "",
  ];
}

export function scaleTables(results: readonly ScaleResult[]): string {
  const cols = columns(results);
  if (cols.length === 0) return "No scale run recorded.\n";
  return [
    ...table(
      "Step skew, p50 / p99 ms",
      "(each step's split weight seen on a WATCH, minus the previous step's, minus the 10 s interval)",
      cols,
      (r) => `${fixed(r.skewMs.p50)} / ${fixed(r.skewMs.p99)}`,
    ),
    ...table(
      "Time until all apps promoted, s",
      "(from the first ship write; 5 steps of 10 s are 50 s at best, plus each controller's promotion)",
      cols,
      (r) => (r.allPromotedSeconds === null ? "-" : fixed(r.allPromotedSeconds, 1)),
    ),
    ...table(
      "Controller API requests per step per app",
      "(APF dispatched for the controller's own FlowSchema, ship to all promoted, less its idle rate)",
      cols,
      (r) =>
        `${fixed(r.requests.perStepPerApp, 1)}${r.requests.rejected > 0 ? ` (${r.requests.rejected} rejected)` : ""}`,
    ),
    ...table(
      "Controller API requests per app per minute, idle",
      "(the same N apps, nothing shipped)",
      cols,
      (r) => fixed(r.requests.idlePerAppPerMinute, 2),
    ),
    ...table(
      "Cluster API requests per step per app",
      "(every client but the benchmark: the controller, kube-controller-manager, kube-scheduler, kwok; less their idle rate)",
      cols,
      (r) => fixed(r.requests.clusterPerStepPerApp, 1),
    ),
    ...table(
      "Controller CPU seconds, ship to all promoted",
      "(user + system from /proc; serin counts its webhook and watcher)",
      cols,
      (r) => `${fixed(r.cpu.inFlightSeconds, 1)} (${fixed(r.cpu.inFlightCoreShare * 100)} % of a core)`,
    ),
    ...table(
      "Controller peak RSS, MiB",
      "(VmRSS sampled every 500 ms while the canaries ran; idle median in brackets)",
      cols,
      (r) => `${fixed(r.rssMiB.peak, 0)} (${fixed(r.rssMiB.idle, 0)})`,
    ),
    ...table(
      "Load average (1 min) at the run's start -> end",
      "(2 cores, shared)",
      cols,
      (r) => `${fixed(r.loadavg.start[0], 1)} -> ${fixed(r.loadavg.end[0], 1)}`,
    ),
  ].join("\n");
}

export function rollbackTable(results: readonly RollbackResult[]): string {
  const latest = new Map<string, RollbackResult>();
  for (const result of results) latest.set(result.controller, result);
  const rows = [...latest.values()].sort((a, b) => ORDER.indexOf(a.controller) - ORDER.indexOf(b.controller));
  if (rows.length === 0) return "No rollback run recorded.\n";
  return [
    "**Rollback: trigger -> split at stable 100%, ms** (one canary held at 10%; a WATCH on the split)",
    "",
    "| controller | trigger | trials | p50 | p99 | max | re-arms retried | load average (1 min) start -> end |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.title} ${r.version} | ${r.trigger} | ${r.latencyMs.n} | ${fixed(r.latencyMs.p50)} | ` +
        `${fixed(r.latencyMs.p99)} | ${fixed(r.latencyMs.max)} | ${r.rearmRetries ?? 0} | ` +
        `${fixed(r.loadavg.start[0], 1)} -> ${fixed(r.loadavg.end[0], 1)} |`,
    ),
    "",
  ].join("\n");
}
