// The no-op migration that warms the cgroup lock before a container joins its v1 cgroups.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { primeCgroupMigration, primeTarget, readHostCgroups } from "../../../src/linux/cgroups.ts";
import { isRoot } from "../../helpers/hood.ts";

const host = readHostCgroups();
const skip = !isRoot ? "needs root" : primeTarget(host) === null ? "needs a v1 hierarchy" : false;

describe("cgroup lock prime", { skip }, () => {
  it("leaves hood in the cgroups it was in", async () => {
    const before = readFileSync("/proc/self/cgroup", "utf8");
    await primeCgroupMigration(host);
    assert.equal(readFileSync("/proc/self/cgroup", "utf8"), before);
    const procs = readFileSync(primeTarget(host)!, "utf8").split("\n");
    assert.ok(procs.includes(String(process.pid)), "hood is still listed in its own cgroup");
  });
});
