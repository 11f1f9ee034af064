/**
 * A container's resource usage read from its cgroup files (v1 controllers and/or cgroup2), in
 * the shape of runc's `events` stats (its types.Stats JSON, with Go's omitempty rules). Counters
 * are bigints: cgroup counters and "unlimited" limits do not fit a double.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerCgroup } from "./cgroups.ts";

const MAX_U64 = (1n << 64n) - 1n;
/** USER_HZ: cpuacct.stat counts in these ticks. */
const TICKS_PER_SECOND = 100n;

function read(dir: string | null | undefined, file: string): string | null {
  if (!dir) return null;
  try {
    return readFileSync(join(dir, file), "utf8");
  } catch {
    return null;
  }
}

/** A number file; "max" is the largest u64, as runc reads it. */
function u64(dir: string | null | undefined, file: string): bigint | null {
  const t = read(dir, file)?.trim();
  if (t === undefined || t === "") return null;
  if (t === "max") return MAX_U64;
  return /^-?\d+$/.test(t) ? BigInt(t) : null;
}

/** "key value" lines. */
function keyValues(text: string | null): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && /^-?\d+$/.test(v)) m.set(k, BigInt(v));
  }
  return m;
}

/** "0-2,5" -> [0, 1, 2, 5]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

type Json = Record<string, unknown>;

/** Go's omitempty for numbers and lists: the key is left out when zero or empty. */
function put(o: Json, key: string, v: bigint | number | unknown[] | string | null | undefined) {
  if (v === null || v === undefined) return;
  if (v === 0n || v === 0 || v === "") return;
  if (Array.isArray(v) && v.length === 0) return;
  o[key] = v;
}

function memoryEntry(
  limit: bigint | null,
  usage: bigint | null,
  max: bigint | null,
  failcnt: bigint | null,
): Json {
  const e: Json = { limit: limit ?? 0n };
  put(e, "usage", usage);
  put(e, "max", max);
  e.failcnt = failcnt ?? 0n;
  return e;
}

function cpuV1(cg: ContainerCgroup): Json {
  const acct = cg.v1.cpuacct;
  const usage: Json = {};
  put(usage, "total", u64(acct, "cpuacct.usage"));
  const percpu = (read(acct, "cpuacct.usage_percpu") ?? "").trim().split(/\s+/).filter(Boolean);
  put(usage, "percpu", percpu.map(BigInt));
  // cpuacct.usage_all: "cpu user system" then one line per cpu, in nanoseconds.
  const all = (read(acct, "cpuacct.usage_all") ?? "").trim().split("\n").slice(1);
  const rows = all.map((l) => l.trim().split(/\s+/)).filter((r) => r.length === 3);
  put(
    usage,
    "percpu_kernel",
    rows.map((r) => BigInt(r[2]!)),
  );
  put(
    usage,
    "percpu_user",
    rows.map((r) => BigInt(r[1]!)),
  );
  const stat = keyValues(read(acct, "cpuacct.stat"));
  const ns = (ticks: bigint | undefined) => ((ticks ?? 0n) * 1_000_000_000n) / TICKS_PER_SECOND;
  usage.kernel = ns(stat.get("system"));
  usage.user = ns(stat.get("user"));
  const t = keyValues(read(cg.v1.cpu, "cpu.stat"));
  const throttling: Json = {};
  put(throttling, "periods", t.get("nr_periods"));
  put(throttling, "throttledPeriods", t.get("nr_throttled"));
  put(throttling, "throttledTime", t.get("throttled_time"));
  return { usage, throttling };
}

function cpuV2(dir: string): Json {
  const s = keyValues(read(dir, "cpu.stat"));
  const us = (k: string) => (s.get(k) ?? 0n) * 1000n;
  const usage: Json = {};
  put(usage, "total", us("usage_usec"));
  usage.kernel = us("system_usec");
  usage.user = us("user_usec");
  const throttling: Json = {};
  put(throttling, "periods", s.get("nr_periods"));
  put(throttling, "throttledPeriods", s.get("nr_throttled"));
  put(
    throttling,
    "throttledTime",
    s.get("throttled_usec") === undefined ? null : us("throttled_usec"),
  );
  return { usage, throttling };
}

function cpuset(dir: string | undefined): Json {
  const o: Json = {};
  put(o, "cpus", parseCpuList(read(dir, "cpuset.cpus") ?? ""));
  o.cpu_exclusive = u64(dir, "cpuset.cpu_exclusive") ?? 0n;
  put(o, "mems", parseCpuList(read(dir, "cpuset.mems") ?? ""));
  for (const [key, file] of [
    ["mem_hardwall", "cpuset.mem_hardwall"],
    ["mem_exclusive", "cpuset.mem_exclusive"],
    ["memory_migrate", "cpuset.memory_migrate"],
    ["memory_spread_page", "cpuset.memory_spread_page"],
    ["memory_spread_slab", "cpuset.memory_spread_slab"],
    ["memory_pressure", "cpuset.memory_pressure"],
    ["sched_load_balance", "cpuset.sched_load_balance"],
    ["sched_relax_domain_level", "cpuset.sched_relax_domain_level"],
  ] as const) {
    o[key] = u64(dir, file) ?? 0n;
  }
  return o;
}

function raw(text: string | null): Json | undefined {
  const m = keyValues(text);
  if (m.size === 0) return undefined;
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function memoryV1(dir: string): Json {
  const entry = (p: string) =>
    memoryEntry(
      u64(dir, `${p}.limit_in_bytes`),
      u64(dir, `${p}.usage_in_bytes`),
      u64(dir, `${p}.max_usage_in_bytes`),
      u64(dir, `${p}.failcnt`),
    );
  const stat = raw(read(dir, "memory.stat"));
  const o: Json = {};
  put(o, "cache", stat?.cache as bigint | undefined);
  o.usage = entry("memory");
  o.swap = entry("memory.memsw");
  o.kernel = entry("memory.kmem");
  o.kernelTCP = entry("memory.kmem.tcp");
  if (stat) o.raw = stat;
  return o;
}

function memoryV2(dir: string): Json {
  const stat = raw(read(dir, "memory.stat"));
  const events = keyValues(read(dir, "memory.events"));
  const usage = u64(dir, "memory.current");
  const limit = u64(dir, "memory.max");
  const swapUsage = u64(dir, "memory.swap.current");
  const swapLimit = u64(dir, "memory.swap.max");
  const o: Json = {};
  put(o, "cache", stat?.file as bigint | undefined);
  o.usage = memoryEntry(limit, usage, u64(dir, "memory.peak"), events.get("max") ?? null);
  // runc reports v2 swap as v1 did: memory plus swap.
  const swapTotal = swapUsage === null ? usage : (usage ?? 0n) + swapUsage;
  const swapMax =
    swapLimit === null || swapLimit === MAX_U64 || limit === null || limit === MAX_U64
      ? (swapLimit ?? limit)
      : swapLimit + limit;
  o.swap = memoryEntry(swapMax, swapTotal, null, null);
  o.kernel = memoryEntry(null, null, null, null);
  o.kernelTCP = memoryEntry(null, null, null, null);
  if (stat) o.raw = stat;
  return o;
}

function pids(dir: string | null | undefined): Json {
  const o: Json = {};
  put(o, "current", u64(dir, "pids.current"));
  const max = u64(dir, "pids.max");
  put(o, "limit", max === MAX_U64 ? 0n : max);
  return o;
}

/** blkio lines "8:0 Read 4096"; the "Total" line has no device and is left out, as in runc. */
function blkioEntries(text: string | null): Json[] {
  const out: Json[] = [];
  for (const line of (text ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const [dev, op, value] = f as [string, string, string];
    const [major, minor] = dev.split(":");
    const e: Json = {};
    put(e, "major", BigInt(major ?? 0));
    put(e, "minor", BigInt(minor ?? 0));
    put(e, "op", op);
    put(e, "value", BigInt(value));
    out.push(e);
  }
  return out;
}

function blkioV1(dir: string): Json {
  // CFQ's files if the kernel has them, else BFQ's, else the throttle counters (runc's order).
  const prefix =
    read(dir, "blkio.io_service_bytes_recursive") !== null
      ? "blkio."
      : read(dir, "blkio.bfq.io_service_bytes_recursive") !== null
        ? "blkio.bfq."
        : "blkio.throttle.";
  const o: Json = {};
  put(o, "ioServiceBytesRecursive", blkioEntries(read(dir, `${prefix}io_service_bytes_recursive`)));
  put(o, "ioServicedRecursive", blkioEntries(read(dir, `${prefix}io_serviced_recursive`)));
  if (prefix === "blkio.") {
    put(o, "ioQueueRecursive", blkioEntries(read(dir, "blkio.io_queued_recursive")));
    put(o, "ioServiceTimeRecursive", blkioEntries(read(dir, "blkio.io_service_time_recursive")));
    put(o, "ioWaitTimeRecursive", blkioEntries(read(dir, "blkio.io_wait_time_recursive")));
    put(o, "ioMergedRecursive", blkioEntries(read(dir, "blkio.io_merged_recursive")));
    put(o, "ioTimeRecursive", blkioEntries(read(dir, "blkio.time_recursive")));
    put(o, "sectorsRecursive", blkioEntries(read(dir, "blkio.sectors_recursive")));
  }
  return o;
}

/** io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." as runc's Read/Write entries. */
function ioV2(dir: string): Json {
  const bytes: Json[] = [];
  const ios: Json[] = [];
  for (const line of (read(dir, "io.stat") ?? "").split("\n")) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    if (!dev?.includes(":")) continue;
    const [major, minor] = dev.split(":").map((x) => BigInt(x));
    for (const pair of kv) {
      const [k, v] = pair.split("=");
      const target =
        k === "rbytes" || k === "wbytes" ? bytes : k === "rios" || k === "wios" ? ios : null;
      if (!target || v === undefined) continue;
      const e: Json = {};
      put(e, "major", major);
      put(e, "minor", minor);
      put(e, "op", k!.startsWith("r") ? "Read" : "Write");
      put(e, "value", BigInt(v));
      target.push(e);
    }
  }
  const o: Json = {};
  put(o, "ioServiceBytesRecursive", bytes);
  put(o, "ioServicedRecursive", ios);
  return o;
}

function hugetlb(dir: string | null | undefined, v2: boolean): Json {
  const out: Json = {};
  let files: string[] = [];
  try {
    files = dir ? readdirSync(dir) : [];
  } catch {
    files = [];
  }
  const suffix = v2 ? ".max" : ".limit_in_bytes";
  for (const f of files) {
    const m = /^hugetlb\.([0-9]+[KMG]B)(\..+)$/.exec(f);
    if (!m || m[2] !== suffix) continue;
    const size = m[1]!;
    const e: Json = {};
    if (v2) {
      put(e, "usage", u64(dir, `hugetlb.${size}.current`));
      e.failcnt = keyValues(read(dir, `hugetlb.${size}.events`)).get("max") ?? 0n;
    } else {
      put(e, "usage", u64(dir, `hugetlb.${size}.usage_in_bytes`));
      put(e, "max", u64(dir, `hugetlb.${size}.max_usage_in_bytes`));
      e.failcnt = u64(dir, `hugetlb.${size}.failcnt`) ?? 0n;
    }
    out[size] = e;
  }
  return out;
}

/** runc's types.Stats for the container, from whichever hierarchy holds each controller. */
export function readStats(cg: ContainerCgroup): Json {
  const u = cg.unified;
  const v2has = (file: string) => u !== null && read(u, file) !== null;
  return {
    cpu: cg.v1.cpuacct || cg.v1.cpu ? cpuV1(cg) : u ? cpuV2(u) : {},
    cpuset: cpuset(cg.v1.cpuset ?? (u && v2has("cpuset.cpus") ? u : undefined)),
    memory: cg.v1.memory ? memoryV1(cg.v1.memory) : u && v2has("memory.current") ? memoryV2(u) : {},
    pids: pids(cg.v1.pids ?? (u && v2has("pids.current") ? u : null)),
    blkio: cg.v1.blkio ? blkioV1(cg.v1.blkio) : u && v2has("io.stat") ? ioV2(u) : {},
    hugetlb: cg.v1.hugetlb ? hugetlb(cg.v1.hugetlb, false) : hugetlb(u, true),
    intel_rdt: {},
    network_interfaces: null,
  };
}

/** JSON with bigints printed as plain numbers, as Go prints its uint64s. */
export function statsJson(value: unknown): string {
  const marked = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `\u0000${v}` : v));
  return marked.replace(/"\\u0000(-?\d+)"/g, "$1");
}
