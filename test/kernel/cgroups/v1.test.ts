// Resource limits, pause/resume, update, events and device rules on this host's cgroup v1
// controllers, measured from the cgroup files and the kernel's own counters.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cgroupFromDirs, hostHierarchies } from "../../../src/linux/cgroups.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { oomKilled } from "../../../src/runtime/resources.ts";
import { isRoot, Sandbox } from "../../helpers/hood.ts";
import { hood, hoodBackground, hostCanOpen, keyed, readCg, sleepMs, waitFor } from "./verbs.ts";

const v1 = new Set(
  hostHierarchies().flatMap((h) => (h.fstype === "cgroup" ? h.controllers.split(",") : [])),
);
const skip = !isRoot
  ? "needs root"
  : ["memory", "pids", "cpu", "freezer", "devices"].every((c) => v1.has(c))
    ? false
    : "needs the v1 memory, pids, cpu, freezer and devices controllers";

describe("cgroup v1: limits, freezer, update, events, devices", { skip }, () => {
  const box = new Sandbox();
  after(() => {
    for (const id of hood(box.root, ["list", "-q"]).stdout.split("\n").filter(Boolean)) {
      hood(box.root, ["delete", "--force", id]);
    }
    box.cleanup();
  });

  const paths = (id: string): string[] =>
    JSON.parse(readFileSync(join(box.root, id, "state.json"), "utf8")).cgroupPaths;
  const dir = (id: string, controller: string): string => {
    const d = cgroupFromDirs(paths(id)).v1[controller];
    assert.ok(d, `no ${controller} directory`);
    return d;
  };

  /** create + start a detached container; returns its id. */
  function launch(args: string[], edit?: (s: Spec) => void): string {
    const bundle = box.bundle({ args, edit });
    const id = box.id();
    const c = hood(box.root, ["create", "--bundle", bundle, id]);
    assert.equal(c.status, 0, c.stderr);
    const s = hood(box.root, ["start", id]);
    assert.equal(s.status, 0, s.stderr);
    return id;
  }
  const status = (id: string) => JSON.parse(hood(box.root, ["state", id]).stdout).status;

  it("writes the spec's limits and places the init in every controller before it runs", () => {
    const id = launch(["sh", "-c", "cat /proc/self/cgroup > /tmp/cg; sleep 30"], (s) => {
      s.linux!.resources = {
        ...s.linux!.resources,
        memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10 },
        cpu: { shares: 512, quota: 20000, period: 100000 },
        pids: { limit: 50 },
      };
    });
    assert.equal(readCg(join(dir(id, "memory"), "memory.limit_in_bytes")), String(64 << 20));
    assert.equal(readCg(join(dir(id, "memory"), "memory.memsw.limit_in_bytes")), String(128 << 20));
    assert.equal(readCg(join(dir(id, "memory"), "memory.soft_limit_in_bytes")), String(32 << 20));
    assert.equal(readCg(join(dir(id, "memory"), "memory.swappiness")), "10");
    assert.equal(readCg(join(dir(id, "cpu"), "cpu.shares")), "512");
    assert.equal(readCg(join(dir(id, "cpu"), "cpu.cfs_quota_us")), "20000");
    assert.equal(readCg(join(dir(id, "pids"), "pids.max")), "50");
    const pid = JSON.parse(hood(box.root, ["state", id]).stdout).pid;
    for (const d of paths(id)) {
      assert.ok(readCg(join(d, "cgroup.procs")).split("\n").includes(String(pid)), d);
    }
    const ps = hood(box.root, ["ps", "--format", "json", id]);
    assert.deepEqual(JSON.parse(ps.stdout), [pid]);
    assert.equal(hood(box.root, ["delete", "--force", id]).status, 0);
  });

  it("removes the cgroups on delete", () => {
    const id = launch(["sleep", "30"]);
    const dirs = paths(id);
    assert.ok(dirs.every((d) => existsSync(d)));
    assert.equal(hood(box.root, ["delete", "--force", id]).status, 0);
    assert.deepEqual(
      dirs.filter((d) => existsSync(d)),
      [],
    );
  });

  it("removes sub-cgroups made inside the container's cgroups on delete", () => {
    const id = launch(["sleep", "30"]);
    const dirs = paths(id);
    const nested = dirs.flatMap((d) => [join(d, "a"), join(d, "a", "b")]);
    for (const n of nested) mkdirSync(n);
    assert.equal(hood(box.root, ["delete", "--force", id]).status, 0);
    assert.deepEqual(
      [...dirs, ...nested].filter((d) => existsSync(d)),
      [],
    );
  });

  it("a memory limit OOM-kills a process that allocates beyond it, and events reports it", async () => {
    const bundle = box.bundle({
      // dd's buffer is one 64 MiB block: it cannot fit in 16 MiB.
      args: ["sh", "-c", "sleep 0.3; exec dd if=/dev/zero of=/dev/null bs=64M count=1"],
      edit: (s) => {
        s.linux!.resources = { ...s.linux!.resources, memory: { limit: 16 << 20, swap: 16 << 20 } };
      },
    });
    const id = box.id();
    assert.equal(hood(box.root, ["create", "--bundle", bundle, id]).status, 0);
    const events = hoodBackground(box.root, ["events", "--interval", "50ms", id]);
    let output = "";
    events.stdout.on("data", (d) => {
      output += d;
    });
    const ended = new Promise<number | null>((r) => events.on("exit", r));
    // Start once events is watching: its first stats line says so.
    const t0 = Date.now();
    while (!output.includes('"type":"stats"') && Date.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(output.includes('"type":"stats"'), "events printed no stats");
    assert.equal(hood(box.root, ["start", id]).status, 0);
    const code = await Promise.race([
      ended,
      new Promise((r) => setTimeout(() => r("timeout"), 15_000)),
    ]);
    assert.equal(code, 0, `events ended with ${code}`);
    const lines = output
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(
      lines.some((e) => e.type === "oom" && e.id === id),
      `no oom event in:\n${output.slice(-400)}`,
    );
    assert.equal(keyed(join(dir(id, "memory"), "memory.oom_control")).oom_kill! >= 1, true);
    assert.equal(oomKilled(paths(id)), true);
    assert.equal(hood(box.root, ["delete", id]).status, 0);
  });

  it("a container that stays within its memory is not reported as OOM-killed", () => {
    const id = launch(["sleep", "30"], (s) => {
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 64 << 20 } };
    });
    assert.equal(oomKilled(paths(id)), false);
    hood(box.root, ["delete", "--force", id]);
  });

  it("pids.limit stops a fork bomb", () => {
    const id = launch(
      ["sh", "-c", "for i in $(seq 40); do sleep 30 & done 2>/dev/null; sleep 30"],
      (s) => {
        s.linux!.resources = { ...s.linux!.resources, pids: { limit: 8 } };
      },
    );
    const pids = dir(id, "pids");
    waitFor(() => (keyed(join(pids, "pids.events")).max ?? 0) > 0);
    assert.ok(Number(readCg(join(pids, "pids.current"))) <= 8);
    assert.equal(readCg(join(pids, "pids.max")), "8");
    hood(box.root, ["delete", "--force", id]);
  });

  it("a cpu quota throttles a busy loop (cpu.stat)", () => {
    const id = launch(["sh", "-c", "while :; do :; done"], (s) => {
      s.linux!.resources = { ...s.linux!.resources, cpu: { quota: 5000, period: 20000 } };
    });
    const cpu = dir(id, "cpu");
    waitFor(() => (keyed(join(cpu, "cpu.stat")).nr_throttled ?? 0) >= 3);
    const stat = keyed(join(cpu, "cpu.stat"));
    assert.ok(stat.nr_throttled! <= stat.nr_periods!);
    assert.ok(stat.throttled_time! > 0);
    // The same counters through events --stats, in runc's shape.
    const ev = JSON.parse(hood(box.root, ["events", "--stats", id]).stdout);
    assert.equal(ev.type, "stats");
    assert.equal(ev.id, id);
    assert.ok(ev.data.cpu.throttling.throttledPeriods >= 3);
    assert.ok(ev.data.cpu.usage.total > 0);
    hood(box.root, ["delete", "--force", id]);
  });

  it("pause freezes every process and resume thaws them; state says paused", () => {
    const id = launch(["sh", "-c", "while :; do :; done"]);
    const acct = join(cgroupFromDirs(paths(id)).v1.cpuacct ?? dir(id, "cpu"), "cpuacct.usage");
    assert.equal(hood(box.root, ["pause", id]).status, 0);
    assert.equal(readCg(join(dir(id, "freezer"), "freezer.state")), "FROZEN");
    assert.equal(status(id), "paused");
    assert.equal(
      JSON.parse(hood(box.root, ["list", "--format", "json"]).stdout)[0].status,
      "paused",
    );
    const frozen = readCg(acct);
    sleepMs(200);
    assert.equal(readCg(acct), frozen, "cpu time grew while frozen");
    const again = hood(box.root, ["pause", id]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /container not running/);

    assert.equal(hood(box.root, ["resume", id]).status, 0);
    assert.equal(readCg(join(dir(id, "freezer"), "freezer.state")), "THAWED");
    assert.equal(status(id), "running");
    waitFor(() => readCg(acct) !== frozen);
    const notPaused = hood(box.root, ["resume", id]);
    assert.notEqual(notPaused.status, 0);
    assert.match(notPaused.stderr, /container not paused/);
    hood(box.root, ["delete", "--force", id]);
  });

  it("delete --force removes a paused container", () => {
    const id = launch(["sleep", "30"]);
    assert.equal(hood(box.root, ["pause", id]).status, 0);
    const dirs = paths(id);
    const del = hood(box.root, ["delete", "--force", id], { timeout: 10_000 });
    assert.equal(del.status, 0, del.stderr);
    assert.deepEqual(
      dirs.filter((d) => existsSync(d)),
      [],
    );
  });

  it("update changes limits in place, from flags and from --resources", () => {
    const id = launch(["sleep", "30"], (s) => {
      s.linux!.resources = {
        ...s.linux!.resources,
        memory: { limit: 64 << 20, swap: 64 << 20 },
        pids: { limit: 20 },
      };
    });
    const u = hood(box.root, [
      "update",
      "--memory",
      "256m",
      "--memory-swap",
      "512m",
      "--cpu-quota",
      "30000",
      "--cpu-period",
      "60000",
      "--cpu-share",
      "256",
      id,
    ]);
    assert.equal(u.status, 0, u.stderr);
    assert.equal(readCg(join(dir(id, "memory"), "memory.limit_in_bytes")), String(256 << 20));
    assert.equal(readCg(join(dir(id, "memory"), "memory.memsw.limit_in_bytes")), String(512 << 20));
    assert.equal(readCg(join(dir(id, "cpu"), "cpu.cfs_quota_us")), "30000");
    assert.equal(readCg(join(dir(id, "cpu"), "cpu.cfs_period_us")), "60000");
    assert.equal(readCg(join(dir(id, "cpu"), "cpu.shares")), "256");
    // Untouched values stay.
    assert.equal(readCg(join(dir(id, "pids"), "pids.max")), "20");

    const file = join(box.dir, `${id}-resources.json`);
    writeFileSync(file, JSON.stringify({ pids: { limit: 7 }, memory: { limit: 128 << 20 } }));
    const r = hood(box.root, ["update", "--resources", file, id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readCg(join(dir(id, "pids"), "pids.max")), "7");
    assert.equal(readCg(join(dir(id, "memory"), "memory.limit_in_bytes")), String(128 << 20));
    // The swap of the earlier update is kept: it was merged, not forgotten.
    assert.equal(readCg(join(dir(id, "memory"), "memory.memsw.limit_in_bytes")), String(512 << 20));

    const bad = hood(box.root, ["update", "--cpu-share", "abc", id]);
    assert.notEqual(bad.status, 0);
    const tooLow = hood(box.root, ["update", "--memory", "1", id]);
    assert.notEqual(tooLow.status, 0);
    assert.match(tooLow.stderr, /linux\.resources\.memory\.limit/);
    hood(box.root, ["delete", "--force", id]);
  });

  it("device rules deny opening a device the config does not allow", () => {
    // A block device the host can open (an unbound loop device reads as empty).
    const disk = ["/dev/loop0", "/dev/loop1"].find((p) => hostCanOpen(p));
    if (!disk) return;
    const rdev = statSync(disk).rdev;
    const major = Math.floor(rdev / 256) & 0xfff;
    const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    const script = `mknod /dev/disk b ${major} ${minor} && head -c 1 /dev/disk >/dev/null && echo readable`;
    const withMknod = (s: Spec) => {
      const caps = s.process!.capabilities!;
      for (const set of ["bounding", "effective", "permitted"] as const) {
        caps[set] = [...(caps[set] ?? []), "CAP_MKNOD"];
      }
    };
    const run = (edit: (s: Spec) => void) =>
      hood(box.root, [
        "run",
        "--bundle",
        box.bundle({ args: ["sh", "-c", script], edit }),
        box.id(),
      ]);
    const denied = run(withMknod);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /Operation not permitted/);
    const allowed = run((s) => {
      withMknod(s);
      s.linux!.resources = {
        ...s.linux!.resources,
        devices: [
          ...(s.linux!.resources?.devices ?? []),
          { allow: true, type: "b", major, minor, access: "r" },
        ],
      };
    });
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.equal(allowed.stdout.trim(), "readable");
  });

  it("a resource the host cannot apply is an error naming it, and nothing is left behind", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.linux!.resources = { ...s.linux!.resources, rdma: { mlx5_0: { hcaHandles: 3 } } };
      },
    });
    const id = box.id();
    const r = hood(box.root, ["create", "--bundle", bundle, id]);
    if (v1.has("rdma")) return;
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /linux\.resources\.rdma/);
    assert.equal(existsSync(join(box.root, id)), false);
  });
});
