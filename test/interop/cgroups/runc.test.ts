// Differential against runc: the same linux.resources give the same values in the cgroup files,
// at create and after the same `update`; `events --stats` has runc's shape.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cgroupFromDirs, hostHierarchies } from "../../../src/linux/cgroups.ts";
import type { LinuxResources, Spec } from "../../../src/oci/runtime-spec.ts";
import { isRoot, Sandbox } from "../../helpers/hood.ts";
import { hood } from "../../kernel/cgroups/verbs.ts";

const hasRunc = spawnSync("runc", ["--version"]).status === 0;
const v1 = new Set(
  hostHierarchies().flatMap((h) => (h.fstype === "cgroup" ? h.controllers.split(",") : [])),
);
const skip = !isRoot
  ? "needs root"
  : !hasRunc
    ? "runc is not installed"
    : !["memory", "cpu", "pids", "cpuset", "devices", "blkio"].every((c) => v1.has(c))
      ? "compares v1 controllers; the host lacks some"
      : false;

/** The files each v1 controller gets from the resources below. */
const FILES: Record<string, string[]> = {
  memory: [
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.swappiness",
    "memory.oom_control",
  ],
  cpu: [
    "cpu.shares",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.rt_period_us",
    "cpu.rt_runtime_us",
    "cpu.idle",
  ],
  cpuset: ["cpuset.cpus", "cpuset.mems"],
  pids: ["pids.max"],
  blkio: ["blkio.bfq.weight", "blkio.throttle.read_bps_device", "blkio.throttle.write_iops_device"],
  devices: ["devices.list"],
};

const hasBlkioWeight = ["blkio.bfq.weight", "blkio.weight"].some((f) =>
  existsSync(join("/sys/fs/cgroup/blkio", f)),
);

/** A block device of this host for the blkio throttles (its major:minor only). */
function blockDevice(): { major: number; minor: number } | null {
  for (const name of ["vda", "sda", "nvme0n1", "loop0"]) {
    try {
      const [major, minor] = readFileSync(`/sys/block/${name}/dev`, "utf8")
        .trim()
        .split(":")
        .map(Number);
      return { major: major!, minor: minor! };
    } catch {
      // next
    }
  }
  return null;
}

describe("cgroup values: hood and runc write the same", { skip }, () => {
  const box = new Sandbox();
  const runcRoot = join(box.dir, "runc-state");
  const runc = (args: string[], cwd?: string) => {
    // Output to a file: a detached container keeps its stdio open.
    const out = join(box.dir, "runc.out");
    const fd = openSync(out, "w");
    try {
      const r = spawnSync("runc", ["--root", runcRoot, ...args], {
        cwd,
        stdio: ["ignore", fd, fd],
        timeout: 30_000,
      });
      return { status: r.status, output: readFileSync(out, "utf8") };
    } finally {
      closeSync(fd);
    }
  };
  const ids: string[] = [];
  after(() => {
    for (const id of ids) runc(["delete", "--force", id]);
    for (const id of hood(box.root, ["list", "-q"]).stdout.split("\n").filter(Boolean)) {
      hood(box.root, ["delete", "--force", id]);
    }
    box.cleanup();
    for (const h of hostHierarchies()) {
      try {
        rmdirSync(join(h.mountpoint, "hood-interop"));
      } catch {
        // still in use by another run, or never made in this hierarchy
      }
    }
  });

  const dev = blockDevice();
  const resources: LinuxResources = {
    memory: {
      limit: 96 << 20,
      reservation: 48 << 20,
      swap: 192 << 20,
      swappiness: 30,
      disableOOMKiller: false,
    },
    cpu: { shares: 700, quota: 30000, period: 60000, cpus: "0", mems: "0", idle: 0 },
    pids: { limit: 33 },
    blockIO: {
      // The weight needs an I/O scheduler that has one (bfq); runc fails the create without it.
      ...(hasBlkioWeight ? { weight: 300 } : {}),
      ...(dev
        ? {
            throttleReadBpsDevice: [{ ...dev, rate: 1048576 }],
            throttleWriteIOPSDevice: [{ ...dev, rate: 77 }],
          }
        : {}),
    },
    devices: [
      { allow: false, access: "rwm" },
      { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
      { allow: true, type: "b", major: 7, minor: -1, access: "r" },
    ],
  };

  /** Starts the same bundle under both runtimes, each in its own absolute cgroup path. */
  function both(extra: LinuxResources = resources): { hoodId: string; runcId: string } {
    const tag = `${process.pid}-${ids.length}`;
    const hoodId = `hood-cg-${tag}`;
    const runcId = `runc-cg-${tag}`;
    const make = (id: string) =>
      box.bundle({
        args: ["sleep", "60"],
        edit: (s: Spec) => {
          s.linux!.cgroupsPath = `/hood-interop/${id}`;
          s.linux!.resources = structuredClone(extra);
        },
      });
    const rb = make(runcId);
    ids.push(runcId);
    const r = runc(["run", "-d", runcId], rb);
    assert.equal(r.status, 0, r.output);
    const c = hood(box.root, ["run", "-d", "--bundle", make(hoodId), hoodId]);
    assert.equal(c.status, 0, c.stderr);
    return { hoodId, runcId };
  }

  const values = (id: string): Record<string, string> => {
    const dirs = Object.entries(
      cgroupFromDirs(
        hostHierarchies()
          .filter((h) => h.fstype === "cgroup")
          .map((h) => join(h.mountpoint, "hood-interop", id)),
      ).v1,
    );
    const out: Record<string, string> = {};
    for (const [controller, dir] of dirs) {
      for (const file of FILES[controller] ?? []) {
        const path = join(dir, file);
        if (!existsSync(path)) continue;
        let text = readFileSync(path, "utf8").trim();
        // oom_control's counters differ between any two cgroups; its setting is the first line.
        if (file === "memory.oom_control") text = text.split("\n")[0]!;
        // The kernel lists device exceptions in the order they were written.
        if (file === "devices.list") text = text.split("\n").sort().join("\n");
        out[`${controller}/${file}`] = text;
      }
    }
    return out;
  };

  it("the same resources give the same cgroup files", () => {
    const { hoodId, runcId } = both();
    const h = values(hoodId);
    const r = values(runcId);
    assert.ok(Object.keys(r).length >= 12, `too few files compared: ${Object.keys(r)}`);
    assert.deepEqual(h, r);
    assert.equal(h["pids/pids.max"], "33");
  });

  it("the same update gives the same cgroup files", () => {
    const { hoodId, runcId } = both();
    const flags = [
      "--memory",
      "160m",
      "--memory-swap",
      "320m",
      "--cpu-quota",
      "45000",
      "--cpu-share",
      "900",
      "--pids-limit",
      "44",
      "--cpuset-cpus",
      "0-1",
    ];
    const r = runc(["update", ...flags, runcId]);
    assert.equal(r.status, 0, r.output);
    const u = hood(box.root, ["update", ...flags, hoodId]);
    assert.equal(u.status, 0, u.stderr);
    assert.deepEqual(values(hoodId), values(runcId));
    assert.equal(values(hoodId)["memory/memory.limit_in_bytes"], String(160 << 20));
  });

  it("events --stats has runc's keys", () => {
    const { hoodId, runcId } = both({ memory: { limit: 64 << 20 }, pids: { limit: 20 } });
    const r = runc(["events", "--stats", runcId]);
    assert.equal(r.status, 0, r.output);
    const h = hood(box.root, ["events", "--stats", hoodId]);
    assert.equal(h.status, 0, h.stderr);
    const re = JSON.parse(r.output);
    const he = JSON.parse(h.stdout);
    const shape = (v: unknown, depth = 0): unknown =>
      v && typeof v === "object" && !Array.isArray(v) && depth < 3
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([k]) => k !== "raw")
              .map(([k, x]) => [k, shape(x, depth + 1)]),
          )
        : Array.isArray(v)
          ? "list"
          : typeof v;
    assert.deepEqual(shape(he), shape(re));
    assert.equal(he.id, hoodId);
    assert.equal(he.data.pids.limit, 20);
    assert.equal(he.data.memory.usage.limit, re.data.memory.usage.limit);
    assert.deepEqual(
      Object.keys(he.data.memory.raw).sort(),
      Object.keys(re.data.memory.raw).sort(),
    );
  });
});
