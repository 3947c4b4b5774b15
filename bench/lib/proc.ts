// What a benchmark reads of a process from /proc: its memory and the CPU time it has used.
import { readdirSync, readFileSync } from "node:fs";

/** A field of /proc/PID/status in KiB: VmRSS (resident now) or VmHWM (the peak resident so far). */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(match[1]);
}

/** User + system CPU seconds the process has used so far (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: the fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The one process whose command line `match` accepts; throws when there is none or more than one. */
export function findPid(what: string, match: (argv: string[]) => boolean): number {
  const hits: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (match(argv)) hits.push(Number(entry));
    } catch {
      // gone in between
    }
  }
  if (hits.length !== 1) throw new Error(`expected one ${what} process, found ${hits.length}`);
  return hits[0] as number;
}
