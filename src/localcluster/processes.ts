// Child processes for the end-to-end harness: spawning with logs in files, stopping, running commands,
// free ports, polling, and the cleanup that keeps a crashed or killed test from leaving servers behind.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long and reject; default 120 s. */
  timeoutMs?: number;
}

/** Runs a command to completion; a non-zero exit is a result, not an error. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
    child.stdin.on("error", () => {}); // the command may exit before reading its input
    child.stdin.end(options.input ?? "");
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago (callers retry if another process takes it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port assigned"));
      });
    });
  });
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** What is being waited for, for the timeout message. */
  what: string;
}

/**
 * Calls `probe` until it returns a value other than undefined. A thrown error counts as "not yet" and its
 * message is kept for the timeout error; `abort` may throw to stop waiting early.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  options: WaitOptions,
  abort?: () => void,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = "";
  for (;;) {
    abort?.();
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}${lastError ? `: ${lastError}` : ""}`,
      );
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** The last `lines` lines of a log file, or a note that it cannot be read. */
export function tailFile(path: string, lines = 40): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    return `(cannot read ${path}: ${(error as Error).message})`;
  }
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: string;
}

export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Set once the process has exited. */
  exited(): ProcessExit | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface ServerFiles {
  /** stdout and stderr are appended here. */
  logFile: string;
  /** The pid is written here, for the orphan guard. */
  pidFile?: string;
  /** The environment; default this process's. */
  env?: NodeJS.ProcessEnv;
}

/** Starts a long-running server, tracked so that the test process's exit kills it. */
export function spawnServer(
  name: string,
  command: string,
  args: readonly string[],
  files: ServerFiles,
): ServerProcess {
  const fd = openSync(files.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ["ignore", fd, fd], ...(files.env ? { env: files.env } : {}) });
  } finally {
    closeSync(fd);
  }
  if (files.pidFile && child.pid) writeFileSync(files.pidFile, String(child.pid));
  // A server left running must not keep the test process alive; the exit handler below kills it.
  child.unref();
  let exit: ProcessExit | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve();
    });
    child.once("error", (error) => {
      exit = { code: null, signal: null, error: `cannot start ${command}: ${error.message}` };
      live.delete(child);
      resolve();
    });
  });
  live.add(child);
  return {
    name,
    child,
    logFile: files.logFile,
    exited: () => exit,
    async stop(graceMs = 5_000) {
      if (exit) return;
      // Unreferenced, a child's exit would not keep the event loop alive long enough to be awaited.
      child.ref();
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

// Everything started here and not yet stopped, and temp dirs to remove, for the exit handlers.
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** Removes `dir` when the test process exits, unless `forgetTempDir` was called for it first. */
export function removeOnExit(dir: string): void {
  tempDirs.add(dir);
}

export function forgetTempDir(dir: string): void {
  tempDirs.delete(dir);
}

function cleanupNow(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.once("exit", cleanupNow);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  // `once`: after cleaning up, re-raising the signal gets its default effect (the process ends).
  process.once(signal, () => {
    cleanupNow();
    process.kill(process.pid, signal);
  });
}

/**
 * A detached guard that outlives a SIGKILLed test process: once `parentPid` is gone it SIGKILLs every pid
 * listed in files named `*.pid` in `dir` and removes `dir`. Returns a function that ends the guard.
 */
export function startOrphanGuard(dir: string, parentPid = process.pid): () => void {
  const script = `
    const fs = require("node:fs"), path = require("node:path");
    const [parent, dir] = process.argv.slice(1);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    setInterval(() => {
      if (alive(Number(parent))) return;
      try {
        for (const f of fs.readdirSync(dir)) {
          if (!f.endsWith(".pid")) continue;
          const pid = Number(fs.readFileSync(path.join(dir, f), "utf8"));
          if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
        }
      } catch {}
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }, 1000);
  `;
  const guard = spawn(process.execPath, ["-e", script, String(parentPid), dir], {
    detached: true,
    stdio: "ignore",
  });
  guard.unref();
  return () => {
    if (guard.exitCode === null && guard.signalCode === null) guard.kill("SIGKILL");
  };
}
