// cgroup v2: each hood command runs in its own mount namespace where /sys/fs/cgroup is the
// cgroup2 hierarchy alone, so hood sees a unified host. On a hybrid host the v1 hierarchies
// keep memory, pids, cpu, io and cpuset: cgroup2 offers only the controllers v1 does not bind
// (hugetlb here), and what needs the others must fail with an error that names the resource.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { hostHierarchies, v2Controllers } from "../../../src/linux/cgroups.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { isRoot, Sandbox } from "../../helpers/hood.ts";
import { hood, hostCanOpen, keyed, readCg, sleepMs, waitFor } from "./verbs.ts";

const unifiedMount = hostHierarchies().find((h) => h.fstype === "cgroup2")?.mountpoint;
const skip = !isRoot ? "needs root" : unifiedMount ? false : "the host has no cgroup2 mount";

/** Runs the rest in a private mount namespace whose /sys/fs/cgroup is cgroup2 only. */
const V2: string[] = [
  "unshare",
  "-m",
  "--propagation",
  "private",
  "sh",
  "-c",
  'umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec "$@"',
  "sh",
];

function diskDevice(): { path: string; major: number; minor: number } | null {
  const path = ["/dev/loop0", "/dev/loop1"].find((p) => hostCanOpen(p));
  if (!path) return null;
  const rdev = statSync(path).rdev;
  return {
    path,
    major: Math.floor(rdev / 256) & 0xfff,
    minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
  };
}

const withMknod = (s: Spec) => {
  const caps = s.process!.capabilities!;
  for (const set of ["bounding", "effective", "permitted"] as const) {
    caps[set] = [...(caps[set] ?? []), "CAP_MKNOD"];
  }
};

describe("cgroup v2 (unified): placement, freezer, device filter, limits", { skip }, () => {
  const box = new Sandbox();
  after(() => {
    for (const id of hood(box.root, ["list", "-q"], { prefix: V2 })
      .stdout.split("\n")
      .filter(Boolean)) {
      hood(box.root, ["delete", "--force", id], { prefix: V2 });
    }
    box.cleanup();
  });
  const v2 = (args: string[]) => hood(box.root, args, { prefix: V2 });
  /** The container's cgroup2 directory as the host sees it. */
  const hostDir = (id: string): string => {
    const recorded: string[] = JSON.parse(
      readFileSync(join(box.root, id, "state.json"), "utf8"),
    ).cgroupPaths;
    assert.equal(recorded.length, 1, "a unified host has one hierarchy");
    return join(unifiedMount!, recorded[0]!.slice("/sys/fs/cgroup".length));
  };
  function launch(args: string[], edit?: (s: Spec) => void): string {
    const bundle = box.bundle({ args, edit });
    const id = box.id();
    const c = v2(["create", "--bundle", bundle, id]);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(v2(["start", id]).status, 0);
    return id;
  }

  it("places the init in its cgroup2 directory; ps reads it; delete removes it", () => {
    const id = launch(["sleep", "30"]);
    const dir = hostDir(id);
    const pid = JSON.parse(v2(["state", id]).stdout).pid;
    assert.deepEqual(readCg(join(dir, "cgroup.procs")).split("\n").map(Number), [pid]);
    assert.deepEqual(JSON.parse(v2(["ps", "--format", "json", id]).stdout), [pid]);
    const stats = JSON.parse(v2(["events", "--stats", id]).stdout);
    assert.equal(stats.type, "stats");
    assert.ok(stats.data.cpu.usage.total > 0, "cpu usage from cpu.stat");
    assert.equal(v2(["delete", "--force", id]).status, 0);
    assert.equal(existsSync(dir), false);
  });

  it("pause freezes through cgroup.freeze and resume thaws", () => {
    const id = launch(["sh", "-c", "while :; do :; done"]);
    const dir = hostDir(id);
    assert.equal(v2(["pause", id]).status, 0);
    assert.match(readCg(join(dir, "cgroup.events")), /^frozen 1$/m);
    assert.equal(JSON.parse(v2(["state", id]).stdout).status, "paused");
    const frozen = keyed(join(dir, "cpu.stat")).usage_usec;
    sleepMs(200);
    assert.equal(keyed(join(dir, "cpu.stat")).usage_usec, frozen, "cpu time grew while frozen");
    assert.equal(v2(["resume", id]).status, 0);
    assert.match(readCg(join(dir, "cgroup.events")), /^frozen 0$/m);
    assert.equal(JSON.parse(v2(["state", id]).stdout).status, "running");
    waitFor(() => keyed(join(dir, "cpu.stat")).usage_usec !== frozen);
    assert.equal(v2(["pause", id]).status, 0);
    const del = v2(["delete", "--force", id]);
    assert.equal(del.status, 0, del.stderr);
    assert.equal(existsSync(dir), false);
  });

  it("the eBPF device filter denies a device the rules do not allow, and update replaces it", () => {
    const disk = diskDevice();
    if (!disk) return;
    const dev = `${disk.major} ${disk.minor}`;
    const denied = box.bundle({
      args: ["sh", "-c", `mknod /dev/disk b ${dev} && head -c 512 /dev/disk >/dev/null`],
      edit: withMknod,
    });
    const r = v2(["run", "--bundle", denied, box.id()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Operation not permitted/);

    const id = launch(["sh", "-c", `mknod /dev/disk b ${dev}; sleep 30`], withMknod);
    const before = v2(["exec", id, "head", "-c", "1", "/dev/disk"]);
    assert.match(before.stderr, /Operation not permitted/);
    assert.notEqual(before.status, 0);
    const file = join(box.dir, `${id}-devices.json`);
    writeFileSync(
      file,
      JSON.stringify({
        devices: [
          { allow: false, access: "rwm" },
          { allow: true, type: "b", major: disk.major, minor: disk.minor, access: "r" },
        ],
      }),
    );
    const u = v2(["update", "--resources", file, id]);
    assert.equal(u.status, 0, u.stderr);
    const afterUpdate = v2([
      "exec",
      id,
      "sh",
      "-c",
      "head -c 1 /dev/disk >/dev/null && echo readable",
    ]);
    assert.equal(afterUpdate.status, 0, afterUpdate.stderr);
    assert.equal(afterUpdate.stdout.trim(), "readable");
    // Still no write: the rule grants read only.
    const write = v2(["exec", id, "sh", "-c", "echo x > /dev/disk"]);
    assert.notEqual(write.status, 0);
    v2(["delete", "--force", id]);
  });

  it("a limit whose controller cgroup2 lacks here is an error naming it; nothing is left", () => {
    const offered = new Set(v2Controllers(unifiedMount!));
    for (const [name, edit] of [
      ["memory", (s: Spec) => (s.linux!.resources = { memory: { limit: 1 << 26 } })],
      ["pids", (s: Spec) => (s.linux!.resources = { pids: { limit: 5 } })],
      ["cpu", (s: Spec) => (s.linux!.resources = { cpu: { quota: 1000 } })],
    ] as const) {
      if (offered.has(name)) continue;
      const bundle = box.bundle({ args: ["true"], edit });
      const id = box.id();
      const r = v2(["create", "--bundle", bundle, id]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, new RegExp(`linux\\.resources\\.${name}: the host has no ${name}`));
      assert.equal(existsSync(join(box.root, id)), false);
      assert.equal(existsSync(join(unifiedMount!, id)), false);
    }
  });

  it("writes unified keys, and refuses one whose controller is not available", () => {
    const id = launch(["sleep", "30"], (s) => {
      s.linux!.resources = { ...s.linux!.resources, unified: { "cgroup.max.depth": "2" } };
    });
    assert.equal(readCg(join(hostDir(id), "cgroup.max.depth")), "2");
    v2(["delete", "--force", id]);
    if (v2Controllers(unifiedMount!).includes("memory")) return;
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.linux!.resources = { unified: { "memory.high": "1000000" } };
      },
    });
    const r = v2(["create", "--bundle", bundle, box.id()]);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /unified resource "memory.high" can't be set: controller "memory" not available/,
    );
  });

  it("hugetlb limits go to cgroup2 when it offers hugetlb, enabling it on the way", () => {
    if (!v2Controllers(unifiedMount!).includes("hugetlb")) return;
    if (!existsSync("/sys/kernel/mm/hugepages/hugepages-2048kB")) return;
    const rootControl = join(unifiedMount!, "cgroup.subtree_control");
    const wasOn = readCg(rootControl).split(" ").includes("hugetlb");
    try {
      for (const prefix of [V2, []]) {
        // With the prefix: a unified host. Without: this hybrid host, whose v1 lacks hugetlb.
        const bundle = box.bundle({
          args: ["sleep", "30"],
          edit: (s) => {
            s.linux!.resources = {
              ...s.linux!.resources,
              hugepageLimits: [{ pageSize: "2MB", limit: 4 << 20 }],
            };
          },
        });
        const id = box.id();
        const c = hood(box.root, ["create", "--bundle", bundle, id], { prefix });
        assert.equal(c.status, 0, c.stderr);
        const dir = join(unifiedMount!, id);
        assert.equal(readCg(join(dir, "hugetlb.2MB.max")), String(4 << 20));
        hood(box.root, ["delete", "--force", id], { prefix });
      }
    } finally {
      if (!wasOn) {
        try {
          writeFileSync(rootControl, "-hugetlb");
        } catch {
          // another cgroup uses it now: leave it on
        }
      }
    }
  });
});
