import { type Logger, pino } from "pino";
import type { LogLevel } from "./config.js";

/** JSON logs on stdout; one root logger per process, handed down as children. */
export function createLogger(level: LogLevel, name = "serin"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
