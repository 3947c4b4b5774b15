// The largest fleet that keeps step skew p99 within a target: one run of this benchmark per fleet size, each
// in a process of its own on a fresh control plane, smallest first, until a size misses the target.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What one run writes with --summary-json: the figures a sweep compares. */
export interface RunSummary {
  canaries: number;
  stepInterval: string;
  finished: number;
  incomplete: number;
  skew: { n: number; p50: number; p90: number; p99: number; max: number };
  ceilingWritesPerSecond: number | undefined;
  /** All clients' writes/s in flight: mean over the window and the busiest sampling interval. */
  writesPerSecond: { mean: number; peak: number };
  watcherRequestsPerSecond: number;
  cores: Record<string, number>;
  load: { start: number; end: number };
  peakRssMiB: number;
}

/** The arguments of one run: the sweep's own flags replaced by the fleet size and where to write its summary. */
export function runArguments(args: readonly string[], canaries: number, summaryFile: string): string[] {
  const own = new Set(["--sweep", "--sweep-target-ms", "--canaries", "--summary-json"]);
  const kept: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    const flag = arg.split("=")[0] as string;
    if (!own.has(flag)) {
      kept.push(arg);
      continue;
    }
    // "--flag value" takes the next argument with it; "--flag=value" does not.
    if (!arg.includes("=")) index += 1;
  }
  return [...kept, "--canaries", String(canaries), "--summary-json", summaryFile];
}

const fixed = (value: number | undefined, digits = 0) =>
  value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : "n/a";

/** Runs `script` once per fleet size; prints each run's report, then the sweep's table. */
export async function runSweep(
  script: string,
  args: readonly string[],
  sizes: readonly number[],
  targetMs: number,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "serin-sweep-"));
  const results: RunSummary[] = [];
  try {
    for (const canaries of [...sizes].sort((a, b) => a - b)) {
      const summaryFile = join(dir, `${canaries}.json`);
      process.stderr.write(`sweep: ${canaries} canaries\n`);
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [script, ...runArguments(args, canaries, summaryFile)], {
          stdio: ["ignore", "inherit", "inherit"],
        });
        child.once("error", reject);
        child.once("exit", resolve);
      });
      if (code !== 0) {
        process.stdout.write(
          `\nsweep: the run with ${canaries} canaries exited with ${code}; the sweep stops\n`,
        );
        break;
      }
      const summary = JSON.parse(await readFile(summaryFile, "utf8")) as RunSummary;
      results.push(summary);
      if (!meets(summary, targetMs)) break;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const largest = results.filter((summary) => meets(summary, targetMs)).at(-1);
  const lines = [
    "",
    `Sweep (each size on a fresh control plane), target step skew p99 <= ${targetMs} ms:`,
    "",
    "| canaries | step interval | promoted | skew p50 ms | skew p99 ms | all clients' writes/s mean / peak | apiserver ceiling writes/s | peak / ceiling | watcher requests/s | CPU cores apiserver / etcd / watcher / kcm | load start / end | meets |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...results.map(
      (s) =>
        `| ${s.canaries} | ${s.stepInterval} | ${s.finished} | ${fixed(s.skew.p50)} | ${fixed(s.skew.p99)} | ` +
        `${fixed(s.writesPerSecond.mean)} / ${fixed(s.writesPerSecond.peak)} | ${fixed(s.ceilingWritesPerSecond)} | ` +
        `${s.ceilingWritesPerSecond ? fixed(s.writesPerSecond.peak / s.ceilingWritesPerSecond, 2) : "n/a"} | ` +
        `${fixed(s.watcherRequestsPerSecond, 1)} | ` +
        `${["kube-apiserver", "etcd", "watcher", "kube-controller-manager"].map((name) => fixed(s.cores[name], 2)).join(" / ")} | ` +
        `${fixed(s.load.start, 1)} / ${fixed(s.load.end, 1)} | ${meets(s, targetMs) ? "yes" : "no"} |`,
    ),
    "",
    largest
      ? `largest fleet measured that meets the target: **${largest.canaries}** canaries`
      : "no fleet size measured meets the target",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function meets(summary: RunSummary, targetMs: number): boolean {
  return summary.finished === summary.canaries && summary.incomplete === 0 && summary.skew.p99 <= targetMs;
}
