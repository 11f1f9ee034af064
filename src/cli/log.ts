/**
 * hood's log: runc's --log and --log-format. Text lines go to stderr (or the log file) as
 * `hood: <message>`; JSON lines are `{"level","msg","time"}`, and a failure's cause is the
 * last line, which is what containerd's shim reads back.
 */
import { appendFileSync } from "node:fs";
import { err } from "./output.ts";

export interface LogOptions {
  path?: string;
  format: "text" | "json";
  debug: boolean;
}

let options: LogOptions = { format: "text", debug: false };

export function configureLog(o: LogOptions): void {
  options = o;
}

function write(level: "debug" | "info" | "warning" | "error", msg: string): void {
  if (level === "debug" && !options.debug) return;
  const line =
    options.format === "json"
      ? `${JSON.stringify({ level, msg, time: new Date().toISOString() })}\n`
      : level === "error"
        ? `hood: ${msg}\n`
        : `hood: ${level}: ${msg}\n`;
  if (options.path) {
    try {
      appendFileSync(options.path, line);
      // runc also prints errors to stderr when a log file is set, for people at a terminal.
      if (level === "error" && options.format === "text") err(line);
      return;
    } catch {
      // fall back to stderr when the log cannot be written
    }
  }
  err(line);
}

export const log = {
  debug: (m: string) => write("debug", m),
  info: (m: string) => write("info", m),
  warn: (m: string) => write("warning", m),
  error: (m: string) => write("error", m),
};
