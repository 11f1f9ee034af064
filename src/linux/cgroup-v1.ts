/**
 * `linux.resources` as cgroup v1 file writes, in runc's order and with runc's values (its fs
 * subsystems). Pure: what the kernel already holds comes in through `V1Host`, so a test can
 * plan against a fake host.
 */
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxHugepageLimit,
  LinuxMemory,
  LinuxNetwork,
  LinuxRdma,
} from "../oci/runtime-spec.ts";
import { type CgroupWrite, decimal } from "./cgroups.ts";

/** What the planner may ask of the host's v1 controllers. */
export interface V1Host {
  /** Whether the controller's directory has the file. */
  has(controller: string, file: string): boolean;
  /** The file's trimmed content, or null when it cannot be read. */
  read(controller: string, file: string): string | null;
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

/**
 * memory: runc writes memsw before the limit when the new swap is above the current limit (the
 * kernel wants limit <= memsw at every step), and makes swap unlimited with an unlimited limit.
 */
export function memoryV1(m: LinuxMemory | undefined, host: V1Host): CgroupWrite[] {
  if (!m) return [];
  const out: CgroupWrite[] = [];
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  if (limit === -1 && swap === 0 && host.has("memory", "memory.memsw.limit_in_bytes")) swap = -1;
  const mem = () => {
    if (limit !== 0)
      out.push(write("memory", "memory.limit_in_bytes", decimal(limit), "memory.limit"));
  };
  const sw = () => {
    if (swap !== 0)
      out.push(write("memory", "memory.memsw.limit_in_bytes", decimal(swap), "memory.swap"));
  };
  let swapFirst = false;
  if (limit !== 0 && swap !== 0) {
    const current = host.read("memory", "memory.limit_in_bytes");
    swapFirst = swap === -1 || (current !== null && BigInt(current) < BigInt(decimal(swap)));
  }
  if (swapFirst) {
    sw();
    mem();
  } else {
    mem();
    sw();
  }
  if (m.reservation !== undefined && m.reservation !== 0) {
    out.push(
      write("memory", "memory.soft_limit_in_bytes", decimal(m.reservation), "memory.reservation"),
    );
  }
  if (m.kernel !== undefined && m.kernel !== 0) {
    out.push(
      write("memory", "memory.kmem.limit_in_bytes", decimal(m.kernel), "memory.kernel", {
        optional: true,
      }),
    );
  }
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0) {
    out.push(
      write("memory", "memory.kmem.tcp.limit_in_bytes", decimal(m.kernelTCP), "memory.kernelTCP", {
        optional: true,
      }),
    );
  }
  if (m.disableOOMKiller) {
    out.push(write("memory", "memory.oom_control", "1", "memory.disableOOMKiller"));
  }
  if (m.swappiness !== undefined) {
    out.push(write("memory", "memory.swappiness", decimal(m.swappiness), "memory.swappiness"));
  }
  if (m.useHierarchy !== undefined) {
    out.push(
      write("memory", "memory.use_hierarchy", m.useHierarchy ? "1" : "0", "memory.useHierarchy"),
    );
  }
  return out;
}

/**
 * cpu: realtime first (a realtime task may only join once its group has runtime), then shares
 * (read back: the kernel clamps them), then the CFS period, burst and quota. A smaller period or
 * a larger burst can be refused until the quota has changed: on EINVAL they are retried after it.
 */
export function cpuV1(c: LinuxCPU | undefined): CgroupWrite[] {
  if (!c) return [];
  const out: CgroupWrite[] = [];
  if (c.realtimePeriod) {
    out.push(write("cpu", "cpu.rt_period_us", decimal(c.realtimePeriod), "cpu.realtimePeriod"));
  }
  if (c.realtimeRuntime) {
    out.push(write("cpu", "cpu.rt_runtime_us", decimal(c.realtimeRuntime), "cpu.realtimeRuntime"));
  }
  if (c.shares) {
    out.push(write("cpu", "cpu.shares", decimal(c.shares), "cpu.shares", { readBack: true }));
  }
  const later = Boolean(c.quota);
  if (c.period) {
    out.push(
      write("cpu", "cpu.cfs_period_us", decimal(c.period), "cpu.period", { retryLater: later }),
    );
  }
  if (c.burst !== undefined) {
    out.push(
      write("cpu", "cpu.cfs_burst_us", decimal(c.burst), "cpu.burst", { retryLater: later }),
    );
  }
  if (c.quota) out.push(write("cpu", "cpu.cfs_quota_us", decimal(c.quota), "cpu.quota"));
  if (c.idle !== undefined) out.push(write("cpu", "cpu.idle", decimal(c.idle), "cpu.idle"));
  return out;
}

export function cpusetV1(c: LinuxCPU | undefined): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (c?.cpus) out.push(write("cpuset", "cpuset.cpus", c.cpus, "cpu.cpus"));
  if (c?.mems) out.push(write("cpuset", "cpuset.mems", c.mems, "cpu.mems"));
  return out;
}

/** pids: 0 leaves the limit alone, a negative one is "max" (runc's reading of the spec). */
export function pidsV1(limit: number | undefined): CgroupWrite[] {
  if (limit === undefined || limit === 0) return [];
  return [write("pids", "pids.max", limitText(limit), "pids.limit")];
}

export function limitText(limit: number): string {
  return limit > 0 ? decimal(limit) : "max";
}

/** blkio: CFQ's files when the kernel has them, else BFQ's (runc's detection). */
export function blkioV1(b: LinuxBlockIO | undefined, host: V1Host): CgroupWrite[] {
  if (!b) return [];
  const cfq = host.has("blkio", "blkio.weight");
  const weightFile = cfq ? "blkio.weight" : "blkio.bfq.weight";
  const deviceFile = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
  const out: CgroupWrite[] = [];
  if (b.weight) out.push(write("blkio", weightFile, decimal(b.weight), "blockIO.weight"));
  if (b.leafWeight) {
    out.push(write("blkio", "blkio.leaf_weight", decimal(b.leafWeight), "blockIO.leafWeight"));
  }
  (b.weightDevice ?? []).forEach((d, i) => {
    const dev = `${d.major}:${d.minor}`;
    if (d.weight) {
      out.push(
        write("blkio", deviceFile, `${dev} ${d.weight}`, `blockIO.weightDevice[${i}].weight`),
      );
    }
    if (d.leafWeight) {
      out.push(
        write(
          "blkio",
          "blkio.leaf_weight_device",
          `${dev} ${d.leafWeight}`,
          `blockIO.weightDevice[${i}].leafWeight`,
        ),
      );
    }
  });
  const throttles = [
    ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
    ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
    ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
    ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
  ] as const;
  for (const [key, file] of throttles) {
    (b[key] ?? []).forEach((t, i) => {
      out.push(
        write("blkio", file, `${t.major}:${t.minor} ${decimal(t.rate)}`, `blockIO.${key}[${i}]`),
      );
    });
  }
  return out;
}

export function hugetlbV1(limits: readonly LinuxHugepageLimit[] | undefined): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  (limits ?? []).forEach((h, i) => {
    const field = `hugepageLimits[${i}]`;
    const value = decimal(h.limit);
    out.push(write("hugetlb", `hugetlb.${h.pageSize}.limit_in_bytes`, value, field));
    out.push(
      write("hugetlb", `hugetlb.${h.pageSize}.rsvd.limit_in_bytes`, value, field, {
        optional: true,
      }),
    );
  });
  return out;
}

export function netClsV1(n: LinuxNetwork | undefined): CgroupWrite[] {
  return n?.classID
    ? [write("net_cls", "net_cls.classid", decimal(n.classID), "network.classID")]
    : [];
}

export function netPrioV1(n: LinuxNetwork | undefined): CgroupWrite[] {
  return (n?.priorities ?? []).map((p, i) =>
    write(
      "net_prio",
      "net_prio.ifpriomap",
      `${p.name} ${decimal(p.priority)}`,
      `network.priorities[${i}]`,
    ),
  );
}

/** rdma.max lines, the same on v1 and v2: "mlx5_1 hca_handle=3 hca_object=max" style. */
export function rdmaWrites(
  rdma: Record<string, LinuxRdma> | undefined,
  controller = "rdma",
): CgroupWrite[] {
  return Object.entries(rdma ?? {}).map(([device, l]) => {
    let line = device;
    if (l.hcaHandles !== undefined) line += ` hca_handle=${decimal(l.hcaHandles)}`;
    if (l.hcaObjects !== undefined) line += ` hca_object=${decimal(l.hcaObjects)}`;
    return write(controller, "rdma.max", line, `rdma.${device}`);
  });
}
