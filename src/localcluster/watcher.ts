import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";
import { type ServerProcess, spawnServer, tailFile, waitFor } from "./processes.js";
import { serinCli } from "./webhook.js";

export interface SerinWatcher {
  readonly name: string;
  /** The process id (a leader's Lease names it: `<hostname>-<pid>`). */
  readonly pid: number;
  /** JSON log lines written so far. */
  logs(): Record<string, unknown>[];
  /** Resolves once the process logged `message` (e.g. "watcher started", "became leader"). */
  waitForLog(message: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM: a clean shutdown (the lease is handed back). */
  stop(): Promise<void>;
  /** SIGKILL: the process dies mid-whatever, as on a node failure. */
  kill(): Promise<void>;
  /** SIGSTOP: the process is frozen (a paused VM, a long GC) and keeps its connections. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Whether the process has exited. */
  exited(): boolean;
}

export interface SerinWatcherOptions {
  /** Kubeconfig the watcher runs with; default the admin's. */
  kubeconfig?: string;
  args?: readonly string[];
  name?: string;
  /** Another build's `dist/src/cli/main.js` (a benchmark's baseline); default this build's. */
  cli?: string;
}

/** Starts `serin watch` as its own process against the control plane. */
export async function startSerinWatcher(
  cp: ControlPlane,
  options: SerinWatcherOptions = {},
): Promise<SerinWatcher> {
  const dir = await mkdtemp(join(tmpdir(), "serin-watch-"));
  const name = options.name ?? "serin watch";
  const logFile = join(dir, "watch.log");
  const args = [
    "--enable-source-maps",
    options.cli ?? serinCli,
    "watch",
    "--kubeconfig",
    options.kubeconfig ?? cp.adminKubeconfig,
    ...(options.args ?? []),
  ];
  const process: ServerProcess = spawnServer(name, globalThis.process.execPath, args, { logFile });
  // Once the process is gone and its folder removed, its log as it was at the end.
  let finalLogs: Record<string, unknown>[] | undefined;
  const logs = () => {
    if (finalLogs) return finalLogs;
    try {
      return readFileSync(logFile, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    } catch {
      return [];
    }
  };
  let stopping: Promise<void> | undefined;
  const finish = (how: () => Promise<void>) => {
    stopping ??= (async () => {
      await how();
      finalLogs = logs();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const watcher: SerinWatcher = {
    name,
    pid: process.child.pid ?? 0,
    logs,
    waitForLog: (message, timeoutMs = 20_000) =>
      waitFor(
        async () => (logs().some((entry) => entry.msg === message) ? true : undefined),
        { timeoutMs, what: `${name} to log "${message}"` },
        () => {
          const exit = process.exited();
          if (exit) throw new Error(`${name} exited (${exit.signal ?? exit.code}):\n${tailFile(logFile)}`);
        },
      ).then(() => undefined),
    stop: () => finish(() => process.stop()),
    kill: () =>
      finish(async () => {
        process.child.kill("SIGKILL");
        await process.stop(0);
      }),
    pause: () => process.child.kill("SIGSTOP"),
    resume: () => process.child.kill("SIGCONT"),
    exited: () => process.exited() !== undefined,
  };
  cp.onStop(() => watcher.stop());
  return watcher;
}
