/** Readers of /proc: process start time and state, namespace identities, processes by namespace. */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot: with the pid, it names a process for good. */
  startTime: bigint;
  utime: bigint;
  stime: bigint;
  ttyNr: number;
}

/** Parses /proc/PID/stat; the comm field may hold spaces and parentheses. */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  const f = text
    .slice(close + 2)
    .trim()
    .split(" ");
  // f[0] is field 3 (state); field N is f[N - 3].
  return {
    pid,
    comm,
    state: f[0] ?? "?",
    ppid: Number(f[1]),
    ttyNr: Number(f[4]),
    utime: BigInt(f[11] ?? 0),
    stime: BigInt(f[12] ?? 0),
    startTime: BigInt(f[19] ?? 0),
  };
}

export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** True when pid is a live (not zombie) process that started at startTime. */
export function isAlive(pid: number, startTime: bigint): boolean {
  const st = readStat(pid);
  return st !== null && st.startTime === startTime && st.state !== "Z" && st.state !== "X";
}

/** The namespace's identity as "type:[inode]", or null when the process is gone. */
export function namespaceId(pid: number | "self", proc: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/${proc}`);
  } catch {
    return null;
  }
}

export function listPids(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Every process whose namespace of the kind `proc` is `id` (e.g. all processes of a pid namespace). */
export function pidsInNamespace(proc: string, id: string): number[] {
  return listPids().filter((pid) => namespaceId(pid, proc) === id);
}

/** The uid that owns /proc/PID, i.e. the process's real uid. */
export function processUid(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** System boot time (seconds since the epoch), for turning start ticks into dates. */
export function bootTime(): number {
  const line = readFileSync("/proc/stat", "utf8")
    .split("\n")
    .find((l) => l.startsWith("btime "));
  return Number(line?.split(" ")[1] ?? 0);
}

export const CLOCK_TICKS = 100;
