import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLONE } from "../../../src/linux/namespaces.ts";
import { defaultSpec } from "../../../src/oci/defaults.ts";
import { compileExec, compileInit, TAG } from "../../../src/setup/compile.ts";
import { MS } from "../../../src/setup/mount-options.ts";
import { MOUNT_HOW, type Step, step } from "../../../src/setup/program.ts";
import { compileOptions } from "../../helpers/compile-options.ts";

const options = compileOptions;

const ops = (steps: Step[]) => steps.map((s) => s.op);
const find = (steps: Step[], op: Step["op"]) => steps.filter((s) => s.op === op);

describe("compileInit", () => {
  it("creates every new namespace with clone3 when none is joined", () => {
    const p = compileInit(options());
    assert.equal(
      p.cloneFlags,
      CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS,
    );
    assert.equal(p.idmap, null);
    assert.equal(p.forks, false);
    assert.equal(find(p.steps, "setns").length, 0);
  });

  it("maps a new user namespace at clone time and becomes root before exec", () => {
    const p = compileInit(
      options((s) => {
        s.linux!.namespaces!.push({ type: "user" });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }),
    );
    assert.ok((p.cloneFlags & CLONE.NEWUSER) !== 0n);
    assert.equal(p.idmap?.when, "clone");
    assert.equal(p.becomeRoot, true);
    // Devices cannot be made with mknod inside a user namespace: they are bound from the host.
    assert.equal(find(p.steps, "mknod-in-root").length, 0);
    const devNull = p.steps.find((s) => s.op === "mount" && s.args.target === "/dev/null");
    assert.ok(devNull);
  });

  it("joins namespaces by path with setns, user first, then unshares and forks", () => {
    const p = compileInit(
      options(
        (s) => {
          s.linux!.namespaces = [
            { type: "network", path: "/run/netns/x" },
            { type: "user", path: "/proc/1/ns/user" },
            { type: "pid" },
            { type: "mount" },
          ];
        },
        { joinFds: { network: 20, user: 21 } },
      ),
    );
    assert.equal(p.cloneFlags, 0n);
    const setns = find(p.steps, "setns");
    assert.deepEqual(
      setns.map((s) => (s.op === "setns" ? s.args.fd : -1)),
      [21, 20],
    );
    const unshare = find(p.steps, "unshare")[0];
    assert.equal(unshare?.op === "unshare" && unshare.args.flags, CLONE.NEWPID | CLONE.NEWNS);
    assert.equal(p.forks, true);
    assert.ok(ops(p.steps).indexOf("fork") > ops(p.steps).indexOf("unshare"));
  });

  it("asks for the maps at a sync point when the new user namespace follows a join", () => {
    const p = compileInit(
      options(
        (s) => {
          s.linux!.namespaces = [
            { type: "network", path: "/n" },
            { type: "user" },
            { type: "mount" },
          ];
          s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
        },
        { joinFds: { network: 5 } },
      ),
    );
    assert.equal(p.idmap?.when, "sync");
    const i = p.steps.findIndex((s) => s.op === "sync" && s.args.tag === TAG.USERNS);
    assert.ok(i > 0);
    assert.equal(p.steps[i - 1]?.op, "unshare");
    assert.equal(p.steps[i + 1]?.op, "setresgid");
  });

  it("makes a time namespace by unshare and writes its offsets", () => {
    const p = compileInit(
      options((s) => {
        s.linux!.namespaces!.push({ type: "time" });
        s.linux!.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 } };
      }),
    );
    assert.equal(p.cloneFlags & CLONE.NEWTIME, 0n);
    const w = p.steps.find(
      (s) => s.op === "write-file" && s.args.path === "/proc/self/timens_offsets",
    );
    assert.equal(w?.op === "write-file" && w.args.data, "monotonic 86400 0\n");
  });

  it("mounts in order, pivots, then masks and hardens", () => {
    const p = compileInit(options());
    const o = ops(p.steps);
    const pivot = o.indexOf("pivot-root");
    assert.ok(o.indexOf("open-root") < o.indexOf("mount", o.indexOf("open-root")));
    assert.ok(pivot > o.lastIndexOf("mknod-in-root"));
    assert.ok(o.indexOf("mask-path") > pivot);
    assert.ok(o.indexOf("readonly-path") > pivot);
    const proc = p.steps.find((s) => s.op === "mount" && s.args.fstype === "proc");
    assert.ok(proc?.op === "mount");
    assert.equal(proc.args.target, "/proc");
    assert.equal(proc.args.how, MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.CREATE_TARGET);
    const first = p.steps.find((s) => s.op === "mount");
    assert.ok(first?.op === "mount");
    assert.equal(first.args.target, "/");
    assert.equal(first.args.flags, MS.SLAVE | MS.REC);
  });

  it("uses move-root with --no-pivot", () => {
    const p = compileInit(options(undefined, { noPivot: true }));
    assert.ok(ops(p.steps).includes("move-root"));
    assert.ok(!ops(p.steps).includes("pivot-root"));
  });

  it("remounts bind mounts with their flags and applies propagation words", () => {
    const p = compileInit(
      options((s) => {
        s.mounts!.push({
          destination: "/data",
          type: "bind",
          source: "vol",
          options: ["rbind", "ro", "nosuid", "rshared"],
        });
      }),
    );
    const data = p.steps.filter((s) => s.op === "mount" && s.args.target === "/data");
    assert.equal(data.length, 3);
    const [bind, remount, prop] = data;
    assert.ok(bind?.op === "mount" && remount?.op === "mount" && prop?.op === "mount");
    assert.equal(bind.args.source, "/b/vol");
    assert.equal(bind.args.flags, MS.BIND | MS.REC);
    assert.equal(remount.args.flags, MS.RDONLY | MS.NOSUID | MS.BIND | MS.REMOUNT);
    assert.equal(prop.args.flags, MS.SHARED | MS.REC);
  });

  it("sets the hostname, rlimits, user and cwd, and ends with report, wait and exec", () => {
    const p = compileInit(
      options((s) => {
        s.hostname = "box";
        s.process!.user = { uid: 1000, gid: 1000, additionalGids: [5] };
        s.process!.cwd = "/tmp";
        s.process!.env = ["PATH=/bin:/usr/bin"];
        s.process!.args = ["ls", "-l"];
      }),
    );
    const o = ops(p.steps);
    assert.ok(o.includes("sethostname"));
    assert.deepEqual(o.slice(-4), ["find-exec", "report", "wait-for-start", "exec"]);
    const exec = p.steps.at(-1);
    assert.ok(exec?.op === "exec");
    assert.deepEqual(exec.args.candidates, ["/bin/ls", "/usr/bin/ls"]);
    assert.deepEqual(exec.args.argv, ["ls", "-l"]);
    const uid = p.steps.find((s) => s.op === "setresuid");
    assert.equal(uid?.op === "setresuid" && uid.args.uid, 1000);
    const groups = p.steps.find((s) => s.op === "setgroups");
    assert.deepEqual(groups?.op === "setgroups" && groups.args.gids, [5]);
    const rl = find(p.steps, "setrlimit");
    assert.equal(rl.length, 1);
    // Fds are closed before the working directory is resolved (CVE-2024-21626).
    assert.ok(o.indexOf("close-fds") < o.indexOf("chdir"));
    const close = p.steps.find((s) => s.op === "close-fds");
    assert.deepEqual(close?.op === "close-fds" && close.args.keep, [10]);
  });

  it("stops for hooks before pivot_root", () => {
    const p = compileInit(options(undefined, { hooks: true }));
    const o = ops(p.steps);
    const i = p.steps.findIndex((s) => s.op === "sync" && s.args.tag === TAG.HOOKS);
    assert.ok(i > 0 && i < o.indexOf("pivot-root"));
  });

  it("applies capabilities in the order that survives setresuid", () => {
    const p = compileInit(
      options(undefined, {
        capabilities: {
          boundingDrop: [1, 2],
          ambient: [10],
          effective: 1n << 10n,
          permitted: 1n << 10n,
          inheritable: 1n << 10n,
        },
      }),
    );
    const o = ops(p.steps);
    assert.ok(o.indexOf("prctl") < o.indexOf("setresuid"));
    assert.ok(o.indexOf("capset") > o.indexOf("setresuid"));
    const raise = p.steps.findLastIndex((s) => s.op === "prctl" && s.args.arg3 === 10);
    assert.ok(raise > o.indexOf("capset"));
  });

  it("loads seccomp last with no_new_privs and before the caps go without it", () => {
    const seccomp = { filter: new Uint8Array(8), flags: 0, listener: false };
    const caps = { boundingDrop: [], ambient: [], effective: 0n, permitted: 0n, inheritable: 0n };
    const nnp = compileInit(
      options(
        (s) => {
          s.process!.noNewPrivileges = true;
        },
        { seccomp, capabilities: caps },
      ),
    );
    let o = ops(nnp.steps);
    assert.ok(o.indexOf("seccomp") > o.indexOf("find-exec"));
    const plain = compileInit(
      options(
        (s) => {
          s.process!.noNewPrivileges = false;
        },
        { seccomp, capabilities: caps },
      ),
    );
    o = ops(plain.steps);
    assert.ok(o.indexOf("seccomp") < o.indexOf("capset"));
  });

  it("passes the preserved fds, the join fds, the FIFO and the console socket", () => {
    const p = compileInit(
      options(
        (s) => {
          s.process!.terminal = true;
        },
        { preserveFds: 2, consoleSocketFd: 30 },
      ),
    );
    assert.deepEqual(p.passFds, [3, 4, 10, 30]);
    assert.ok(ops(p.steps).includes("console"));
    const close = p.steps.find((s) => s.op === "close-fds");
    assert.equal(close?.op === "close-fds" && close.args.first, 5);
  });
});

describe("compileExec", () => {
  it("joins every namespace of the container, user first and pid last, then forks", () => {
    const spec = defaultSpec({ args: ["sh"] });
    const p = compileExec({
      spec,
      process: { ...spec.process!, args: ["ps"] },
      nsFds: { pid: 1, mount: 2, user: 3, network: 4 },
      consoleSocketFd: null,
      preserveFds: 0,
      capabilities: null,
      seccomp: null,
      cgroupJoins: [],
    });
    const setns = find(p.steps, "setns").map((s) => (s.op === "setns" ? s.args.fd : 0));
    assert.deepEqual(setns, [3, 4, 2, 1]);
    assert.equal(p.forks, true);
    assert.equal(p.steps[setns.length]?.op, "fork");
    assert.ok(!ops(p.steps).includes("wait-for-start"));
    assert.equal(p.steps.at(-1)?.op, "exec");
  });

  it("joins the v1 cgroups before any namespace, and passes their fds", () => {
    const spec = defaultSpec({ args: ["sh"] });
    const p = compileExec({
      spec,
      process: { ...spec.process!, args: ["ps"] },
      nsFds: { pid: 1, mount: 2 },
      consoleSocketFd: null,
      preserveFds: 0,
      capabilities: null,
      seccomp: null,
      cgroupJoins: [{ dir: "/sys/fs/cgroup/pids/c1", fd: 40 }],
    });
    assert.deepEqual(
      p.steps.slice(0, 3).map((s) => s.op),
      ["write-fd", "close-fd", "setns"],
    );
    assert.ok(p.passFds.includes(40));
  });
});

describe("joining v1 cgroups", () => {
  const joins = [
    { dir: "/sys/fs/cgroup/cpu/c1", fd: 40 },
    { dir: "/sys/fs/cgroup/memory/c1", fd: 41 },
  ];

  it("writes 0 to each tasks fd and closes it, before every other step", () => {
    const p = compileInit(compileOptions(undefined, { cgroupJoins: joins }));
    assert.deepEqual(p.steps.slice(0, 4), [
      step("write-fd", { fd: 40, data: "0" }, 'join the cgroup "/sys/fs/cgroup/cpu/c1"'),
      step("close-fd", { fd: 40 }, 'close the tasks file of "/sys/fs/cgroup/cpu/c1"'),
      step("write-fd", { fd: 41, data: "0" }, 'join the cgroup "/sys/fs/cgroup/memory/c1"'),
      step("close-fd", { fd: 41 }, 'close the tasks file of "/sys/fs/cgroup/memory/c1"'),
    ]);
    assert.ok(p.passFds.includes(40) && p.passFds.includes(41));
  });

  it("comes before the namespace steps of a container that joins namespaces by path", () => {
    const p = compileInit(
      compileOptions(
        (s) => {
          s.linux!.namespaces = [{ type: "network", path: "/proc/1/ns/net" }, { type: "mount" }];
        },
        { cgroupJoins: joins, joinFds: { network: 7 } },
      ),
    );
    const firstSetns = p.steps.findIndex((s) => s.op === "setns");
    const lastJoin = p.steps.findLastIndex((s) => s.op === "write-fd");
    assert.ok(lastJoin >= 0 && lastJoin < firstSetns);
  });

  it("adds nothing without v1 cgroups", () => {
    const p = compileInit(compileOptions());
    assert.ok(!ops(p.steps).includes("write-fd"));
  });
});
