import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type HostCgroups,
  parseCgroupMounts,
  parseProcCgroup,
  primeTarget,
} from "../../../src/linux/cgroups.ts";

const HYBRID = [
  "30 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
  "31 25 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
  "32 25 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
].join("\n");

function host(mountinfo: string, procCgroup: string): HostCgroups {
  return { hierarchies: parseCgroupMounts(mountinfo), own: parseProcCgroup(procCgroup) };
}

describe("the cgroup lock prime", () => {
  it("writes to hood's own cgroup in the first v1 hierarchy", () => {
    const h = host(HYBRID, "2:memory:/a/b\n1:cpu:/\n0::/\n");
    assert.equal(primeTarget(h), "/sys/fs/cgroup/cpu/cgroup.procs");
  });

  it("follows the own path below the hierarchy's mount", () => {
    const h = host(HYBRID, "2:memory:/a/b\n1:cpu:/x/y\n0::/\n");
    assert.equal(primeTarget(h), "/sys/fs/cgroup/cpu/x/y/cgroup.procs");
  });

  it("takes the mount's root into account", () => {
    const mi = "31 25 0:27 /kube/pod /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu";
    const h = host(mi, "1:cpu:/kube/pod/c\n");
    assert.equal(primeTarget(h), "/sys/fs/cgroup/cpu/c/cgroup.procs");
  });

  it("skips a hierarchy whose own path lies outside the mount's root", () => {
    const mi = [
      "31 25 0:27 /kube/pod /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu",
      "32 25 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
    ].join("\n");
    const h = host(mi, "2:memory:/m\n1:cpu:/elsewhere\n");
    assert.equal(primeTarget(h), "/sys/fs/cgroup/memory/m/cgroup.procs");
  });

  it("has nothing to do on a cgroup2-only host", () => {
    const mi = "30 25 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw";
    assert.equal(primeTarget(host(mi, "0::/user.slice\n")), null);
  });
});
