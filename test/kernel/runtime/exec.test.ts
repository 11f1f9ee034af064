import assert from "node:assert/strict";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

describe("exec into a running container", { skip: needsRoot }, () => {
  const box = new Sandbox();
  let id = "";
  let pid = 0;
  before(() => {
    const bundle = box.bundle({
      args: ["sleep", "60"],
      edit: (s) => {
        s.linux!.namespaces!.push({ type: "user" }, { type: "cgroup" });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      },
    });
    id = box.id();
    const r = box.hood(["run", "--detach", "--bundle", bundle, id]);
    assert.equal(r.status, 0, r.stderr);
    pid = JSON.parse(box.hood(["state", id]).stdout).pid;
  });
  after(() => box.cleanup());

  it("joins every namespace of the init", () => {
    const kinds = ["pid", "net", "ipc", "uts", "mnt", "user", "cgroup"];
    const r = box.hood([
      "exec",
      id,
      "sh",
      "-c",
      kinds.map((k) => `readlink /proc/self/ns/${k}`).join("; "),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const seen = r.stdout.trim().split("\n");
    for (const [i, k] of kinds.entries()) {
      assert.equal(seen[i], readlinkSync(`/proc/${pid}/ns/${k}`), k);
    }
  });

  it("sees the init as pid 1 and exits with the process's status", () => {
    const r = box.hood(["exec", id, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 5"]);
    assert.equal(r.status, 5);
    assert.equal(r.stdout, "sleep 60 ");
  });

  it("takes --env, --cwd and --user", () => {
    const r = box.hood([
      "exec",
      "--env",
      "A=b",
      "--cwd",
      "/tmp",
      "--user",
      "7:8",
      id,
      "sh",
      "-c",
      "echo $A; pwd; id -u; id -g",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["b", "/tmp", "7", "8"]);
  });

  it("runs a process.json with --process and --detach, writing --pid-file", () => {
    const file = join(box.dir, "process.json");
    writeFileSync(
      file,
      JSON.stringify({
        args: ["sleep", "5"],
        cwd: "/",
        user: { uid: 0, gid: 0 },
        env: ["PATH=/bin"],
      }),
    );
    const pidFile = join(box.dir, "exec.pid");
    const r = box.hood(["exec", "--process", file, "--detach", "--pid-file", pidFile, id]);
    assert.equal(r.status, 0, r.stderr);
    const ps = JSON.parse(box.hood(["ps", "--format", "json", id]).stdout) as number[];
    assert.equal(ps.length, 2);
  });

  it("puts the init (in a user namespace) and an exec'd process in every one of its cgroups", () => {
    // Read from the host: inside, the cgroup namespace shows every path as "/".
    const dirs: string[] = JSON.parse(
      readFileSync(join(box.root, id, "state.json"), "utf8"),
    ).cgroupPaths;
    const pidFile = join(box.dir, "cgroup-exec.pid");
    const r = box.hood(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "5"]);
    assert.equal(r.status, 0, r.stderr);
    const execPid = Number(readFileSync(pidFile, "utf8"));
    for (const p of [pid, execPid]) {
      for (const d of dirs) {
        const procs = readFileSync(join(d, "cgroup.procs"), "utf8").split("\n");
        assert.ok(procs.includes(String(p)), `pid ${p} is not in ${d}`);
      }
    }
  });

  it("fails for a stopped container", () => {
    const bundle = box.bundle({ args: ["true"] });
    const other = box.id();
    assert.equal(box.hood(["run", "--keep", "--bundle", bundle, other]).status, 0);
    const r = box.hood(["exec", other, "true"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot exec in a stopped container/);
  });
});
