import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseDuration } from "../../../src/cli/events.ts";
import { parseRam, resourcesFromFlags } from "../../../src/cli/update.ts";
import { parseCpuList, statsJson } from "../../../src/linux/cgroup-stats.ts";
import {
  blkioV1,
  cpuV1,
  memoryV1,
  pidsV1,
  rdmaWrites,
  type V1Host,
} from "../../../src/linux/cgroup-v1.ts";
import {
  blkioToIOWeight,
  cpuV2,
  ioV2,
  memoryV2,
  sharesToWeight,
  swapToV2,
  unifiedController,
} from "../../../src/linux/cgroup-v2.ts";
import {
  type CgroupWrite,
  cgroupFromDirs,
  type Hierarchy,
  resolveCgroupPath,
} from "../../../src/linux/cgroups.ts";
import { mergeResources, runWrites } from "../../../src/runtime/resources.ts";

const host = (files: Record<string, string>): V1Host => ({
  has: (c, f) => `${c}/${f}` in files,
  read: (c, f) => files[`${c}/${f}`] ?? null,
});
const show = (ws: CgroupWrite[]) => ws.map((w) => `${w.file}=${w.value}`);
const noWarn = () => assert.fail("unexpected warning");

describe("cgroup v1 writes (runc's fs subsystems)", () => {
  it("writes memsw before the limit when the new swap is above the current limit", () => {
    const h = host({
      "memory/memory.limit_in_bytes": "1048576",
      "memory/memory.memsw.limit_in_bytes": "x",
    });
    assert.deepEqual(show(memoryV1({ limit: 2 << 20, swap: 4 << 20 }, h)), [
      `memory.memsw.limit_in_bytes=${4 << 20}`,
      `memory.limit_in_bytes=${2 << 20}`,
    ]);
    const big = host({ "memory/memory.limit_in_bytes": String(64 << 20) });
    assert.deepEqual(show(memoryV1({ limit: 2 << 20, swap: 4 << 20 }, big)), [
      `memory.limit_in_bytes=${2 << 20}`,
      `memory.memsw.limit_in_bytes=${4 << 20}`,
    ]);
  });

  it("makes swap unlimited with an unlimited limit, when the kernel accounts swap", () => {
    const h = host({
      "memory/memory.memsw.limit_in_bytes": "1",
      "memory/memory.limit_in_bytes": "1",
    });
    assert.deepEqual(show(memoryV1({ limit: -1 }, h)), [
      "memory.memsw.limit_in_bytes=-1",
      "memory.limit_in_bytes=-1",
    ]);
    assert.deepEqual(show(memoryV1({ limit: -1 }, host({}))), ["memory.limit_in_bytes=-1"]);
  });

  it("writes the other memory knobs with their fields", () => {
    const ws = memoryV1(
      { reservation: 100, disableOOMKiller: true, swappiness: 0, kernelTCP: 4096 },
      host({}),
    );
    assert.deepEqual(show(ws), [
      "memory.soft_limit_in_bytes=100",
      "memory.kmem.tcp.limit_in_bytes=4096",
      "memory.oom_control=1",
      "memory.swappiness=0",
    ]);
    assert.equal(ws[0]!.field, "linux.resources.memory.reservation");
    assert.equal(ws[1]!.optional, true);
  });

  it("orders cpu writes as runc and marks the ones the kernel may refuse for now", () => {
    const ws = cpuV1({
      realtimePeriod: 1000000,
      realtimeRuntime: 1000,
      shares: 1024,
      period: 50000,
      burst: 1000,
      quota: 25000,
      idle: 0,
    });
    assert.deepEqual(show(ws), [
      "cpu.rt_period_us=1000000",
      "cpu.rt_runtime_us=1000",
      "cpu.shares=1024",
      "cpu.cfs_period_us=50000",
      "cpu.cfs_burst_us=1000",
      "cpu.cfs_quota_us=25000",
      "cpu.idle=0",
    ]);
    assert.equal(ws[2]!.readBack, true);
    assert.equal(ws[3]!.retryLater, true);
    assert.equal(cpuV1({ period: 50000 })[0]!.retryLater, false);
  });

  it("reads pids.limit as runc: 0 leaves it, negative is max", () => {
    assert.deepEqual(show(pidsV1(0)), []);
    assert.deepEqual(show(pidsV1(-1)), ["pids.max=max"]);
    assert.deepEqual(show(pidsV1(12)), ["pids.max=12"]);
  });

  it("uses CFQ's blkio files when present, else BFQ's", () => {
    const b = { weight: 300, weightDevice: [{ major: 8, minor: 0, weight: 200 }] };
    assert.deepEqual(show(blkioV1(b, host({ "blkio/blkio.weight": "" }))), [
      "blkio.weight=300",
      "blkio.weight_device=8:0 200",
    ]);
    assert.deepEqual(
      show(
        blkioV1({ ...b, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] }, host({})),
      ),
      [
        "blkio.bfq.weight=300",
        "blkio.bfq.weight_device=8:0 200",
        "blkio.throttle.read_bps_device=8:0 1024",
      ],
    );
  });

  it("writes rdma limits one device per line, leaving out what is not limited", () => {
    assert.deepEqual(
      show(rdmaWrites({ mlx5_1: { hcaHandles: 3 }, mlx4_0: { hcaHandles: 1, hcaObjects: 9 } })),
      ["rdma.max=mlx5_1 hca_handle=3", "rdma.max=mlx4_0 hca_handle=1 hca_object=9"],
    );
  });
});

describe("cgroup v2 writes (runc's conversions)", () => {
  it("maps shares and blkio weights onto v2's ranges", () => {
    assert.equal(sharesToWeight(2), 1);
    assert.equal(sharesToWeight(1024), 39);
    assert.equal(sharesToWeight(262144), 10000);
    assert.equal(blkioToIOWeight(10), 1);
    assert.equal(blkioToIOWeight(500), 4950);
    assert.equal(blkioToIOWeight(1000), 10000);
  });

  it("turns memory+swap into swap alone", () => {
    assert.equal(swapToV2(0, -1), -1);
    assert.equal(swapToV2(-1, 100), -1);
    assert.equal(swapToV2(300, 100), 200);
    assert.throws(() => swapToV2(300, 0), /needs a memory limit/);
    assert.throws(() => swapToV2(50, 100), /below the memory limit/);
    assert.deepEqual(show(memoryV2({ limit: 100, swap: 100 }, noWarn)), [
      "memory.swap.max=0",
      "memory.max=100",
    ]);
    assert.deepEqual(show(memoryV2({ limit: -1, reservation: 10 }, noWarn)), [
      "memory.swap.max=max",
      "memory.max=max",
      "memory.low=10",
    ]);
  });

  it("warns about the memory knobs v2 does not have", () => {
    const warnings: string[] = [];
    memoryV2({ swappiness: 10, disableOOMKiller: true }, (m) => warnings.push(m));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /swappiness/);
  });

  it("writes cpu.max with the default period and refuses realtime", () => {
    assert.deepEqual(show(cpuV2({ quota: 20000 })), ["cpu.max=20000 100000"]);
    assert.deepEqual(show(cpuV2({ period: 50000 })), ["cpu.max=max 50000"]);
    assert.deepEqual(show(cpuV2({ shares: 1024, quota: -1, period: 10000, idle: 1 })), [
      "cpu.idle=1",
      "cpu.weight=39",
      "cpu.max=max 10000",
    ]);
    assert.throws(() => cpuV2({ realtimeRuntime: 100 }), /realtime/);
  });

  it("writes io.max lines and BFQ or converted weights", () => {
    const b = {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
    };
    assert.deepEqual(show(ioV2(b, { has: () => false }, noWarn)), [
      "io.weight=4950",
      "io.weight=8:0 910",
      "io.max=8:0 wiops=50",
    ]);
    assert.deepEqual(show(ioV2(b, { has: (f) => f === "io.bfq.weight" }, noWarn)).slice(0, 2), [
      "io.bfq.weight=500",
      "io.bfq.weight=8:0 100",
    ]);
  });

  it("knows a unified key's controller", () => {
    assert.equal(unifiedController("memory.high"), "memory");
    assert.equal(unifiedController("cgroup.max.depth"), "");
  });
});

describe("cgroup paths", () => {
  it("resolves cgroupsPath forms", () => {
    assert.equal(resolveCgroupPath(undefined, "c1"), "c1");
    assert.equal(resolveCgroupPath("/a/b", "c1"), "/a/b");
    assert.equal(resolveCgroupPath("system.slice:hood:c1", "c1"), "/system.slice/hood-c1.scope");
  });

  it("tells each directory's hierarchy and controllers apart", () => {
    const hs: Hierarchy[] = [
      {
        mountpoint: "/sys/fs/cgroup/cpu,cpuacct",
        fstype: "cgroup",
        controllers: "cpu,cpuacct",
        root: "/",
      },
      { mountpoint: "/sys/fs/cgroup/memory", fstype: "cgroup", controllers: "memory", root: "/" },
      { mountpoint: "/sys/fs/cgroup/unified", fstype: "cgroup2", controllers: "", root: "/" },
      {
        mountpoint: "/sys/fs/cgroup/systemd",
        fstype: "cgroup",
        controllers: "name=systemd",
        root: "/",
      },
    ];
    const cg = cgroupFromDirs(
      [
        "/sys/fs/cgroup/cpu,cpuacct/c1",
        "/sys/fs/cgroup/memory/x/c1",
        "/sys/fs/cgroup/unified/c1",
        "/sys/fs/cgroup/systemd/c1",
      ],
      hs,
    );
    assert.equal(cg.v1.cpu, "/sys/fs/cgroup/cpu,cpuacct/c1");
    assert.equal(cg.v1.cpuacct, "/sys/fs/cgroup/cpu,cpuacct/c1");
    assert.equal(cg.v1.memory, "/sys/fs/cgroup/memory/x/c1");
    assert.equal(cg.unified, "/sys/fs/cgroup/unified/c1");
    assert.equal(cg.unifiedMount, "/sys/fs/cgroup/unified");
    assert.equal(cg.v1["name=systemd"], undefined);
    const pure = cgroupFromDirs(
      ["/sys/fs/cgroup/c1"],
      [{ mountpoint: "/sys/fs/cgroup", fstype: "cgroup2", controllers: "", root: "/" }],
    );
    assert.equal(pure.unified, "/sys/fs/cgroup/c1");
    assert.deepEqual(pure.v1, {});
  });
});

describe("writing cgroup files", () => {
  it("writes in order, skips an optional knob the kernel lacks, names the field on failure", () => {
    const dir = mkdtempSync(join(tmpdir(), "hood-cg-unit-"));
    try {
      writeFileSync(join(dir, "pids.max"), "");
      runWrites(dir, [
        { controller: "pids", file: "pids.max", value: "5", field: "linux.resources.pids.limit" },
        { controller: "x", file: "absent", value: "1", field: "f", optional: true },
      ]);
      assert.equal(readFileSync(join(dir, "pids.max"), "utf8"), "5");
      assert.throws(
        () =>
          runWrites(dir, [
            {
              controller: "memory",
              file: "memory.max",
              value: "9",
              field: "linux.resources.memory.limit",
            },
          ]),
        /set linux\.resources\.memory\.limit: write "9" to ".*memory\.max": ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("update", () => {
  it("merges changes into the current resources field by field", () => {
    const merged = mergeResources(
      {
        memory: { limit: 10, swap: 20 },
        pids: { limit: 5 },
        devices: [{ allow: false, access: "rwm" }],
      },
      { memory: { limit: 30 }, cpu: { shares: 2 } },
    );
    assert.deepEqual(merged, {
      memory: { limit: 30, swap: 20 },
      pids: { limit: 5 },
      devices: [{ allow: false, access: "rwm" }],
      cpu: { shares: 2 },
    });
  });

  it("reads runc update's flags, sizes in binary units", () => {
    assert.equal(parseRam("512m"), 512 << 20);
    assert.equal(parseRam("1g"), 1 << 30);
    assert.equal(parseRam("1.5k"), 1536);
    assert.equal(parseRam("100"), 100);
    assert.equal(parseRam("-1"), -1);
    assert.throws(() => parseRam("lots"));
    assert.deepEqual(
      resourcesFromFlags({
        memory: "1m",
        "memory-swap": "-1",
        "cpu-quota": "-1",
        "pids-limit": "9",
        "cpuset-cpus": "0",
      }),
      { cpu: { cpus: "0", quota: -1 }, memory: { limit: 1 << 20, swap: -1 }, pids: { limit: 9 } },
    );
    assert.deepEqual(resourcesFromFlags({}), {});
    assert.throws(() => resourcesFromFlags({ "cpu-share": "-3" }), /cpu-share/);
  });
});

describe("events", () => {
  it("reads Go durations", () => {
    assert.equal(parseDuration("5s"), 5000);
    assert.equal(parseDuration("100ms"), 100);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("1500\u00b5s"), 1.5);
    assert.equal(parseDuration("1500us"), 1.5);
    assert.throws(() => parseDuration("5"));
    assert.throws(() => parseDuration("soon"));
  });

  it("prints u64 counters exactly and expands cpu lists", () => {
    assert.equal(
      statsJson({ a: 18446744073709551615n, b: [1n], c: "x" }),
      '{"a":18446744073709551615,"b":[1],"c":"x"}',
    );
    assert.deepEqual(parseCpuList("0-2,5\n"), [0, 1, 2, 5]);
  });
});
