/**
 * `events`: a container's stats and OOM kills as runc prints them, one JSON object per line:
 * `{"type":"stats","id":...,"data":{...}}` and `{"type":"oom","id":...}`.
 */
import { existsSync } from "node:fs";
import { readStats, statsJson } from "../linux/cgroup-stats.ts";
import { cgroupFromDirs } from "../linux/cgroups.ts";
import type { RuntimeContext } from "./container.ts";
import { oomKillCount } from "./resources.ts";
import { currentStatus, mustRead, readRecord } from "./state.ts";

export function statsEvent(id: string, cgroupPaths: readonly string[]): string {
  const data = readStats(cgroupFromDirs(cgroupPaths));
  return `${statsJson({ type: "stats", id, data })}\n`;
}

export function oomEvent(id: string): string {
  return `${JSON.stringify({ type: "oom", id })}\n`;
}

export interface WatchOptions {
  /** Milliseconds between stats events. */
  interval: number;
  /** How often the OOM counter is read. */
  oomPoll?: number;
  emit: (line: string) => void;
  /** Resolves to stop watching early. */
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Emits stats every interval and an oom event each time the kill counter grows, until the
 * container is stopped or deleted (runc stops when its cgroup goes away).
 */
export async function watchEvents(ctx: RuntimeContext, id: string, o: WatchOptions): Promise<void> {
  const record = mustRead(ctx.root, id);
  const paths = record.cgroupPaths;
  const poll = Math.min(o.oomPoll ?? 25, o.interval);
  let ooms = oomKillCount(paths);
  let nextStats = Date.now() + o.interval;
  for (;;) {
    if (o.signal?.aborted) return;
    const now = oomKillCount(paths);
    for (; ooms < now; ooms++) o.emit(oomEvent(id));
    const r = readRecord(ctx.root, id);
    const gone =
      !r || currentStatus(ctx.root, r) === "stopped" || !paths.some((p) => existsSync(p));
    if (gone) {
      // A last look: the kill that stopped the container is counted by now.
      const last = oomKillCount(paths);
      for (; ooms < last; ooms++) o.emit(oomEvent(id));
      return;
    }
    if (Date.now() >= nextStats) {
      o.emit(statsEvent(id, paths));
      nextStats += o.interval;
    }
    await sleep(Math.max(1, Math.min(poll, nextStats - Date.now())));
  }
}
