/**
 * `linux.resources` as cgroup v2 file writes, with runc's conversions from the v1-shaped spec
 * (cpu shares to cpu.weight, blkio weight to io.weight, memory+swap to memory.swap.max). Pure:
 * what the kernel has comes in through `V2Host`.
 */
import { HoodError } from "../errors.ts";
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxHugepageLimit,
  LinuxMemory,
} from "../oci/runtime-spec.ts";
import { cpusetV1, pidsV1 } from "./cgroup-v1.ts";
import { type CgroupWrite, decimal } from "./cgroups.ts";

export interface V2Host {
  /** Whether the container's directory has the file. */
  has(file: string): boolean;
}

const R = "linux.resources";

function write(
  controller: string,
  file: string,
  value: string,
  field: string,
  extra: Partial<CgroupWrite> = {},
): CgroupWrite {
  return { controller, file, value, field: `${R}.${field}`, ...extra };
}

/** runc's mapping of cpu.shares [2, 262144] onto cpu.weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's mapping of blkio.weight [10, 1000] onto io.weight [1, 10000]. */
export function blkioToIOWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** v1's -1 is v2's "max"; 0 means "leave it". */
function v2Number(n: number): string {
  return n === -1 ? "max" : decimal(n);
}

/**
 * v1's memory.memsw limit counts memory plus swap, v2's memory.swap.max swap alone: runc's
 * conversion, including "unlimited memory means unlimited swap".
 */
export function swapToV2(swap: number, limit: number): number {
  if (limit === -1 && swap === 0) return -1;
  if (swap === -1 || swap === 0) return swap;
  if (limit === 0 || limit === -1) {
    throw new HoodError(
      `${R}.memory.swap: a swap limit needs a memory limit on cgroup v2`,
      "INVALID_SPEC",
    );
  }
  if (swap < limit) {
    throw new HoodError(
      `${R}.memory.swap: memory+swap limit ${swap} is below the memory limit ${limit}`,
      "INVALID_SPEC",
    );
  }
  return swap - limit;
}

export function memoryV2(m: LinuxMemory | undefined, warn: (m: string) => void): CgroupWrite[] {
  if (!m) return [];
  const out: CgroupWrite[] = [];
  const limit = m.limit ?? 0;
  const swapSet = m.swap ?? 0;
  if (limit !== 0 || swapSet !== 0) {
    const swap = swapToV2(swapSet, limit);
    // Equal memory and memory+swap means "no swap": write 0, never an empty value.
    if (swap !== 0 || swapSet > 0) {
      out.push(
        write("memory", "memory.swap.max", v2Number(swap), "memory.swap", {
          // Without swap accounting the knob is absent; "max" and "0" then hold anyway.
          optional: swap === -1 || swap === 0,
        }),
      );
    }
  }
  if (limit !== 0) out.push(write("memory", "memory.max", v2Number(limit), "memory.limit"));
  if (m.reservation !== undefined && m.reservation !== 0) {
    out.push(write("memory", "memory.low", v2Number(m.reservation), "memory.reservation"));
  }
  // What v2 has no knob for, runc leaves out; say so rather than pretend.
  if (m.swappiness !== undefined) warn(`${R}.memory.swappiness is not supported on cgroup v2`);
  if (m.disableOOMKiller) warn(`${R}.memory.disableOOMKiller is not supported on cgroup v2`);
  if (m.kernel || m.kernelTCP) warn(`${R}.memory.kernel and kernelTCP are ignored on cgroup v2`);
  if (m.useHierarchy === false) warn(`${R}.memory.useHierarchy: cgroup v2 is always hierarchical`);
  return out;
}

export function cpuV2(c: LinuxCPU | undefined): CgroupWrite[] {
  if (!c) return [];
  if (c.realtimePeriod || c.realtimeRuntime) {
    throw new HoodError(
      `${R}.cpu.realtimePeriod/realtimeRuntime: cgroup v2 has no realtime cpu controller`,
      "ENOTSUP",
    );
  }
  const out: CgroupWrite[] = [];
  if (c.idle !== undefined) out.push(write("cpu", "cpu.idle", decimal(c.idle), "cpu.idle"));
  if (c.shares) {
    out.push(write("cpu", "cpu.weight", decimal(sharesToWeight(c.shares)), "cpu.shares"));
  }
  const quotaOrPeriod = Boolean(c.quota) || Boolean(c.period);
  if (c.burst !== undefined) {
    out.push(
      write("cpu", "cpu.max.burst", decimal(c.burst), "cpu.burst", { retryLater: quotaOrPeriod }),
    );
  }
  if (quotaOrPeriod) {
    const quota = c.quota && c.quota > 0 ? decimal(c.quota) : "max";
    const period = c.period ? decimal(c.period) : "100000";
    out.push(write("cpu", "cpu.max", `${quota} ${period}`, c.quota ? "cpu.quota" : "cpu.period"));
  }
  return out;
}

/** cpuset and pids use the same files and values on both hierarchies. */
export const cpusetV2 = cpusetV1;
export const pidsV2 = pidsV1;

/** io: BFQ's weight when the kernel has it (raw 10-1000), else io.weight (converted). */
export function ioV2(
  b: LinuxBlockIO | undefined,
  host: V2Host,
  warn: (m: string) => void,
): CgroupWrite[] {
  if (!b) return [];
  const bfq = host.has("io.bfq.weight");
  const out: CgroupWrite[] = [];
  if (b.weight) {
    out.push(
      bfq
        ? write("io", "io.bfq.weight", decimal(b.weight), "blockIO.weight")
        : write("io", "io.weight", decimal(blkioToIOWeight(b.weight)), "blockIO.weight"),
    );
  }
  (b.weightDevice ?? []).forEach((d, i) => {
    if (!d.weight) return;
    const dev = `${d.major}:${d.minor}`;
    const field = `blockIO.weightDevice[${i}].weight`;
    out.push(
      bfq
        ? write("io", "io.bfq.weight", `${dev} ${d.weight}`, field)
        : write("io", "io.weight", `${dev} ${blkioToIOWeight(d.weight)}`, field),
    );
  });
  if (b.leafWeight || (b.weightDevice ?? []).some((d) => d.leafWeight)) {
    warn(`${R}.blockIO leaf weights are not supported on cgroup v2`);
  }
  const throttles = [
    ["throttleReadBpsDevice", "rbps"],
    ["throttleWriteBpsDevice", "wbps"],
    ["throttleReadIOPSDevice", "riops"],
    ["throttleWriteIOPSDevice", "wiops"],
  ] as const;
  for (const [key, name] of throttles) {
    (b[key] ?? []).forEach((t, i) => {
      out.push(
        write(
          "io",
          "io.max",
          `${t.major}:${t.minor} ${name}=${decimal(t.rate)}`,
          `blockIO.${key}[${i}]`,
        ),
      );
    });
  }
  return out;
}

export function hugetlbV2(limits: readonly LinuxHugepageLimit[] | undefined): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  (limits ?? []).forEach((h, i) => {
    const field = `hugepageLimits[${i}]`;
    const value = decimal(h.limit);
    out.push(write("hugetlb", `hugetlb.${h.pageSize}.max`, value, field));
    out.push(write("hugetlb", `hugetlb.${h.pageSize}.rsvd.max`, value, field, { optional: true }));
  });
  return out;
}

/** The controller a unified key belongs to: "memory.high" -> "memory"; core files -> "". */
export function unifiedController(key: string): string {
  const dot = key.indexOf(".");
  const c = dot < 0 ? key : key.slice(0, dot);
  return c === "cgroup" ? "" : c;
}

/** Raw v2 key/values, written last so that they win over the converted ones, as in runc. */
export function unifiedV2(unified: Record<string, string> | undefined): CgroupWrite[] {
  return Object.entries(unified ?? {}).map(([key, value]) =>
    write(unifiedController(key), key, value, `unified.${key}`),
  );
}
