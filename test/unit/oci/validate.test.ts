import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultSpec } from "../../../src/oci/defaults.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { formatProblems, validateProcess, validateSpec } from "../../../src/oci/validate.ts";
import {
  assertHasProblem,
  assertOneProblem,
  assertValid,
  assertWarning,
  baseSpec,
  check,
  edit,
} from "./edit-spec.ts";

const NS = "linux.namespaces";

describe("validateSpec: whole documents", () => {
  test("runc's default configs are valid and draw no warning", () => {
    for (const opts of [{}, { rootless: true }, { cgroupNamespace: true }]) {
      const v = validateSpec(JSON.parse(JSON.stringify(defaultSpec(opts))));
      assertValid(v);
      assert.deepEqual(v.warnings, []);
    }
  });

  test("a document that is not an object is one problem at the root", () => {
    for (const doc of [null, [], "config", 3, undefined]) {
      const v = validateSpec(doc);
      assert.equal(v.problems.length, 1);
      assert.equal(v.problems[0]!.path, "");
    }
  });

  test("reports every problem of a config at once, each at its path", () => {
    const v = check({
      ociVersion: "2.0.0",
      "process.cwd": "relative",
      "process.rlimits[0].type": "RLIMIT_BOGUS",
      [`${NS}[1].type`]: "pid",
      [`${NS}[2].type`]: "bogus",
      "linux.devices": [{ path: "/dev/x", type: "q", major: 1, minor: 1 }],
      "hooks.poststop": [{ path: "hook", timeout: 0 }],
      "linux.sysctl": { "vm.swappiness": "10" },
    });
    assert.deepEqual(v.problems.map((p) => p.path).sort(), [
      "hooks.poststop[0].path",
      "hooks.poststop[0].timeout",
      "linux.devices[0].type",
      `${NS}[1]`,
      `${NS}[2].type`,
      'linux.sysctl["vm.swappiness"]',
      "ociVersion",
      "process.cwd",
      "process.rlimits[0].type",
    ]);
  });

  test("a null member is read as absent (as Go does), and the returned spec has none", () => {
    const v = check({ hostname: null, "process.capabilities": null, "linux.resources": null });
    assertValid(v);
    assert.equal("hostname" in v.spec, false);
    assert.equal("capabilities" in v.spec.process!, false);
  });

  test("a required member given as null is missing", () => {
    assertOneProblem(check({ "root.path": null }), "root.path", /is required/);
  });

  test("the input is not modified", () => {
    const doc = edit(baseSpec(), { hostname: null });
    const before = JSON.stringify(doc);
    validateSpec(doc);
    assert.equal(JSON.stringify(doc), before);
  });

  test("unknown members are ignored with a warning naming them", () => {
    const v = check({ "linux.namespace": [], "process.user.name": "root" });
    assertValid(v);
    assertWarning(v, "linux.namespace", /unknown field/);
    assertWarning(v, "process.user.name", /unknown field/);
  });

  test("other platforms' sections are accepted silently", () => {
    const v = check({ windows: { layerFolders: [] }, solaris: {}, vm: {}, zos: {} });
    assertValid(v);
    assert.deepEqual(v.warnings, []);
  });

  test("a __proto__ key stays plain data", () => {
    const doc = JSON.parse('{"annotations": {"__proto__": "x"}}') as object;
    const v = validateSpec(edit(baseSpec(), { annotations: (doc as Spec).annotations }));
    assertValid(v);
    assert.equal(Object.getPrototypeOf(v.spec.annotations), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(v.spec.annotations, "__proto__")?.value, "x");
  });

  test("wrong types are reported with what was found", () => {
    assertOneProblem(
      check({ "process.terminal": "yes" }),
      "process.terminal",
      /boolean, got a string/,
    );
    assertOneProblem(check({ mounts: {} }), "mounts", /array, got an object/);
    assertOneProblem(
      check({ "process.args": ["sh", 1] }),
      "process.args[1]",
      /string, got a number/,
    );
    assertOneProblem(check({ "process.user.umask": 1.5 }), "process.user.umask", /uint32/);
  });
});

describe("validateSpec: ociVersion, root, process", () => {
  test("ociVersion is required and must be SemVer 1.x", () => {
    assertOneProblem(check({ ociVersion: undefined }), "ociVersion", /is required/);
    assertOneProblem(check({ ociVersion: "1.0" }), "ociVersion", /SemVer/);
    assertOneProblem(check({ ociVersion: "v1.0.0" }), "ociVersion", /SemVer/);
    assertOneProblem(check({ ociVersion: "01.0.0" }), "ociVersion", /SemVer/);
    assertOneProblem(check({ ociVersion: "2.0.0" }), "ociVersion", /1\.x/);
    assertOneProblem(check({ ociVersion: "0.5.0" }), "ociVersion", /1\.x/);
    for (const ok of ["1.0.0", "1.0.2-dev", "1.1.0-rc.3", "1.2.1", "1.3.0", "1.0.0+build.1"]) {
      assertValid(check({ ociVersion: ok }));
    }
  });

  test("a newer 1.x version is accepted with a warning", () => {
    const v = check({ ociVersion: "1.9.0" });
    assertValid(v);
    assertWarning(v, "ociVersion", /newer/);
  });

  test("root and root.path are required", () => {
    assertOneProblem(check({ root: undefined }), "root", /is required/);
    assertOneProblem(check({ "root.path": "" }), "root.path", /must not be empty/);
    assertValid(check({ "root.path": "/abs/rootfs" }));
  });

  test("process is required, with non-empty args and an absolute cwd", () => {
    assertOneProblem(check({ process: undefined }), "process", /is required/);
    assertOneProblem(check({ "process.args": [] }), "process.args", /must not be empty/);
    assertOneProblem(check({ "process.args": undefined }), "process.args", /must not be empty/);
    assertOneProblem(check({ "process.cwd": "" }), "process.cwd", /must not be empty/);
    assertOneProblem(check({ "process.cwd": undefined }), "process.cwd", /must not be empty/);
    assertOneProblem(check({ "process.cwd": "tmp" }), "process.cwd", /absolute/);
  });

  test("env entries need a name and an equals sign", () => {
    assertOneProblem(check({ "process.env": ["NOEQ"] }), "process.env[0]", /invalid environment/);
    assertOneProblem(
      check({ "process.env": ["A=1", "=x"] }),
      "process.env[1]",
      /name can't be empty/,
    );
    assertOneProblem(check({ "process.env": ["A=\0"] }), "process.env[0]", /null byte/);
    assertValid(check({ "process.env": ["EMPTY=", "A=b=c"] }));
  });

  test("a missing user is root, with a warning, and the returned spec says so", () => {
    const v = check({ "process.user": undefined });
    assertValid(v);
    assertWarning(v, "process.user", /uid 0/);
    assert.deepEqual(v.spec.process!.user, { uid: 0, gid: 0 });
  });

  test("user ids are uint32", () => {
    assertOneProblem(check({ "process.user.uid": -1 }), "process.user.uid", /uint32/);
    assertOneProblem(check({ "process.user.gid": 2 ** 32 }), "process.user.gid", /uint32/);
    assertOneProblem(
      check({ "process.user.additionalGids": [1, "2"] }),
      "process.user.additionalGids[1]",
      /integer/,
    );
    assertValid(
      check({ "process.user": { uid: 1000, gid: 1000, umask: 0o77, additionalGids: [5] } }),
    );
  });

  test("consoleSize requires terminal", () => {
    const size = { height: 24, width: 80 };
    assertOneProblem(
      check({ "process.terminal": false, "process.consoleSize": size }),
      "process.consoleSize",
      /terminal/,
    );
    assertValid(check({ "process.terminal": true, "process.consoleSize": size }));
    assertOneProblem(
      check({ "process.consoleSize": { height: 24 } }),
      "process.consoleSize.width",
      /is required/,
    );
  });

  test("capability names must look like CAP_*; unknown ones are only warned about", () => {
    const bad = check({ "process.capabilities.bounding": ["CAP_KILL", "cap_kill", "KILL"] });
    assert.deepEqual(
      bad.problems.map((p) => p.path),
      ["process.capabilities.bounding[1]", "process.capabilities.bounding[2]"],
    );
    const unknown = check({ "process.capabilities.ambient": ["CAP_NOT_YET_INVENTED"] });
    assertValid(unknown);
    assertWarning(unknown, "process.capabilities.ambient[0]", /CAP_NOT_YET_INVENTED/);
  });

  test("the list of known capabilities is a parameter", () => {
    const v = check(
      { "process.capabilities.effective": ["CAP_BPF"] },
      { knownCapabilities: ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"] },
    );
    assertValid(v);
    assertWarning(v, "process.capabilities.effective[0]", /CAP_BPF/);
    assert.deepEqual(check({ "process.capabilities.effective": ["CAP_BPF"] }).warnings, []);
  });

  test("rlimits: known types, no duplicates, soft not above hard", () => {
    const r = (type: string, soft = 1, hard = 1) => ({ type, soft, hard });
    assertOneProblem(
      check({ "process.rlimits": [r("RLIMIT_NOFILES")] }),
      "process.rlimits[0].type",
      /wrong rlimit value: RLIMIT_NOFILES/,
    );
    assertOneProblem(
      check({ "process.rlimits": [r("RLIMIT_CORE"), r("RLIMIT_NOFILE"), r("RLIMIT_CORE")] }),
      "process.rlimits[2].type",
      /duplicated rlimit RLIMIT_CORE \(also process.rlimits\[0\]\)/,
    );
    assertOneProblem(
      check({ "process.rlimits": [r("RLIMIT_NPROC", 10, 5)] }),
      "process.rlimits[0]",
      /soft limit 10 is above hard limit 5/,
    );
    assertOneProblem(
      check({ "process.rlimits": [{ type: "RLIMIT_AS", soft: 1 }] }),
      "process.rlimits[0].hard",
      /is required/,
    );
  });

  test("rlimits take RLIM_INFINITY as written in JSON", () => {
    const v = validateSpec(
      JSON.parse(
        JSON.stringify(baseSpec()).replace(
          '"hard":1024,"soft":1024',
          '"hard":18446744073709551615,"soft":18446744073709551615',
        ),
      ),
    );
    assertValid(v);
    assert.equal(v.spec.process!.rlimits![0]!.hard, 2 ** 64);
  });

  test("oomScoreAdj is from -1000 to 1000", () => {
    assertValid(check({ "process.oomScoreAdj": -1000 }));
    assertOneProblem(
      check({ "process.oomScoreAdj": 1001 }),
      "process.oomScoreAdj",
      /-1000 to 1000/,
    );
  });

  test("ioPriority: a known class and a priority from 0 to 7", () => {
    assertValid(check({ "process.ioPriority": { class: "IOPRIO_CLASS_BE", priority: 7 } }));
    assertOneProblem(
      check({ "process.ioPriority": { class: "IOPRIO_CLASS_BE", priority: 8 } }),
      "process.ioPriority.priority",
      /0 to 7/,
    );
    assertOneProblem(
      check({ "process.ioPriority": { class: "BE", priority: 0 } }),
      "process.ioPriority.class",
      /must be one of/,
    );
  });

  test("scheduler: runc's rules", () => {
    const s = (v: object) => check({ "process.scheduler": v });
    assertValid(s({ policy: "SCHED_FIFO", priority: 10, flags: ["SCHED_FLAG_RESET_ON_FORK"] }));
    assertValid(s({ policy: "SCHED_DEADLINE", runtime: 1, deadline: 2, period: 3 }));
    assertOneProblem(s({ nice: 1 }), "process.scheduler.policy", /policy is required/);
    assertOneProblem(s({ policy: "SCHED_OTHER", nice: 20 }), "process.scheduler.nice", /nice: 20/);
    assertOneProblem(
      s({ policy: "SCHED_OTHER", priority: 1 }),
      "process.scheduler.priority",
      /only be specified for SchedFIFO or SchedRR/,
    );
    assertOneProblem(
      s({ policy: "SCHED_RR", runtime: 5 }),
      "process.scheduler",
      /only be specified for SchedDeadline/,
    );
    assertOneProblem(s({ policy: "SCHED_FAST" }), "process.scheduler.policy", /must be one of/);
    assertOneProblem(
      s({ policy: "SCHED_RR", flags: ["SCHED_FLAG_X"] }),
      "process.scheduler.flags[0]",
      /must be one of/,
    );
  });

  test("execCPUAffinity takes CPU lists", () => {
    assertValid(check({ "process.execCPUAffinity": { initial: "0-3,7", final: "1" } }));
    assertOneProblem(
      check({ "process.execCPUAffinity": { initial: "3-1" } }),
      "process.execCPUAffinity.initial",
      /CPU list/,
    );
    assertOneProblem(
      check({ "process.execCPUAffinity": { final: "a" } }),
      "process.execCPUAffinity.final",
      /CPU list/,
    );
  });
});

describe("validateSpec: hostname, mounts, hooks, annotations", () => {
  const withoutUts = { [`${NS}[3]`]: undefined };

  test("hostname and domainname need a UTS namespace", () => {
    assertOneProblem(
      check(withoutUts),
      "hostname",
      /unable to set hostname without a private UTS namespace/,
    );
    assertOneProblem(
      check({ ...withoutUts, hostname: undefined, domainname: "example.org" }),
      "domainname",
      /unable to set domainname without a private UTS namespace/,
    );
    assertValid(check({ ...withoutUts, hostname: "" }));
  });

  test("setting the hostname of a joined UTS namespace is warned about", () => {
    const v = check({ [`${NS}[3].path`]: "/proc/1/ns/uts" });
    assertValid(v);
    assertWarning(v, "hostname", /joined UTS namespace/);
  });

  test("a hostname longer than 64 bytes cannot be set", () => {
    assertOneProblem(check({ hostname: "h".repeat(65) }), "hostname", /64 bytes/);
    assertValid(check({ hostname: "h".repeat(64) }));
  });

  test("a relative mount destination is deprecated, not refused (runc)", () => {
    const v = check({ "mounts[0].destination": "proc" });
    assertValid(v);
    assertWarning(v, "mounts[0].destination", /deprecated/);
  });

  test("mount fields must not hold null bytes and need a destination", () => {
    assertOneProblem(check({ "mounts[0].source": "pr\0c" }), "mounts[0].source", /null byte/);
    assertOneProblem(
      check({ "mounts[0].destination": undefined }),
      "mounts[0].destination",
      /required/,
    );
    assertOneProblem(check({ "mounts[0].destination": "" }), "mounts[0].destination", /empty/);
  });

  test("bind mounts cannot carry filesystem data options", () => {
    const bind = { destination: "/data", type: "bind", source: "/srv", options: ["rbind", "ro"] };
    assertValid(check({ "mounts[7]": bind }));
    assertOneProblem(
      check({ "mounts[7]": { ...bind, options: ["bind", "mode=755"] } }),
      "mounts[7].options",
      /filesystem-specific/,
    );
  });

  test("id-mapped mounts: bind only, both maps given", () => {
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const m = { destination: "/data", source: "/srv", options: ["rbind"] };
    assertValid(check({ "mounts[7]": { ...m, uidMappings: map, gidMappings: map } }));
    assertHasProblem(
      check({
        "mounts[7]": { ...m, options: [], type: "tmpfs", uidMappings: map, gidMappings: map },
      }),
      "mounts[7]",
      /only supported for bind-mounts/,
    );
    assertOneProblem(
      check({ "mounts[7]": { ...m, uidMappings: map } }),
      "mounts[7]",
      /both uid and gid mappings/,
    );
    assertHasProblem(
      check({
        "mounts[7]": { ...m, uidMappings: map, gidMappings: [{ containerID: 0, size: 1 }] },
      }),
      "mounts[7].gidMappings[0].hostID",
      /is required/,
    );
  });

  test("the idmap option alone takes the container's user namespace mapping", () => {
    const m = { destination: "/data", source: "/srv", options: ["rbind", "idmap"] };
    assertOneProblem(check({ "mounts[7]": m }), "mounts[7]", /needs a user namespace/);
    const rootless = JSON.parse(JSON.stringify(defaultSpec({ rootless: true })));
    assertValid(validateSpec(edit(rootless, { "mounts[7]": m })));
  });

  test("hooks of all six kinds take absolute paths and positive timeouts", () => {
    const hook = { path: "/usr/bin/hook", args: ["hook", "x"], env: ["A=b"], timeout: 5 };
    const kinds = [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ];
    assertValid(check(Object.fromEntries(kinds.map((k) => [`hooks.${k}`, [hook]]))));
    assertOneProblem(
      check({ "hooks.createRuntime": [{ path: "hook" }] }),
      "hooks.createRuntime[0].path",
      /absolute/,
    );
    assertOneProblem(
      check({ "hooks.poststart": [{ ...hook, timeout: 0 }] }),
      "hooks.poststart[0].timeout",
      /greater than zero/,
    );
    assertOneProblem(
      check({ "hooks.poststop": [{ ...hook, timeout: -3 }] }),
      "hooks.poststop[0].timeout",
      /greater than zero/,
    );
    assertOneProblem(
      check({ "hooks.prestart": [{ args: [] }] }),
      "hooks.prestart[0].path",
      /is required/,
    );
    assertWarning(check({ "hooks.preStart": [] }), "hooks.preStart", /unknown field/);
  });

  test("annotations map strings to strings, with non-empty keys", () => {
    assertValid(check({ annotations: { "org.example.key": "", b: "c" } }));
    assertOneProblem(check({ annotations: { a: 1 } }), "annotations.a", /string/);
    assertOneProblem(check({ annotations: { "": "x" } }), "annotations", /keys must not be empty/);
    assertOneProblem(check({ annotations: { "a.b": false } }), 'annotations["a.b"]', /string/);
  });
});

describe("validateSpec: namespaces and id mappings", () => {
  test("namespace types must be known and unique", () => {
    assertOneProblem(check({ [`${NS}[0].type`]: "net" }), `${NS}[0].type`, /must be one of/);
    assertOneProblem(check({ [`${NS}[5]`]: { type: "pid" } }), `${NS}[5]`, /duplicated ns "pid"/);
    assertOneProblem(check({ [`${NS}[0].type`]: undefined }), `${NS}[0].type`, /is required/);
    const all = ["pid", "network", "mount", "ipc", "uts", "cgroup", "time"].map((type) => ({
      type,
    }));
    assertValid(check({ [NS]: all }));
  });

  test("a namespace path must be absolute; an empty one means a new namespace", () => {
    assertOneProblem(check({ [`${NS}[1].path`]: "netns/x" }), `${NS}[1].path`, /absolute/);
    assertValid(check({ [`${NS}[1].path`]: "/var/run/netns/x" }));
    assertValid(check({ [`${NS}[1].path`]: "" }));
  });

  const userns = { type: "user" };
  const map = (containerID: number, hostID: number, size: number) => ({
    containerID,
    hostID,
    size,
  });

  test("mappings need a user namespace (runc's rule)", () => {
    assertOneProblem(
      check({ "linux.uidMappings": [map(0, 1000, 1)] }),
      "linux.uidMappings",
      /user namespace mappings specified, but user namespace isn't enabled/,
    );
  });

  test("a new user namespace needs mappings of both kinds, root included", () => {
    assertOneProblem(
      check({ [`${NS}[5]`]: userns }),
      `${NS}[5]`,
      /no namespace path to join nor mappings/,
    );
    assertOneProblem(
      check({ [`${NS}[5]`]: userns, "linux.uidMappings": [map(0, 1000, 1)] }),
      "linux.gidMappings",
      /no gid mappings found/,
    );
    assertOneProblem(
      check({
        [`${NS}[5]`]: userns,
        "linux.uidMappings": [map(1, 1000, 1)],
        "linux.gidMappings": [map(0, 1000, 1)],
      }),
      "linux.uidMappings",
      /no root user mapping/,
    );
    assertValid(
      check({
        [`${NS}[5]`]: userns,
        "linux.uidMappings": [map(0, 100000, 65536)],
        "linux.gidMappings": [map(0, 100000, 65536)],
      }),
    );
  });

  test("a joined user namespace with mappings is accepted with a warning", () => {
    const v = check({
      [`${NS}[5]`]: { type: "user", path: "/proc/1/ns/user" },
      "linux.uidMappings": [map(0, 0, 1)],
      "linux.gidMappings": [map(0, 0, 1)],
    });
    assertValid(v);
    assertWarning(v, `${NS}[5].path`, /must match/);
  });

  test("mapping lines are checked as the kernel checks uid_map", () => {
    const withUid = (uid: object[]) =>
      check({
        [`${NS}[5]`]: userns,
        "linux.uidMappings": uid,
        "linux.gidMappings": [map(0, 1, 1)],
      });
    assertOneProblem(withUid([map(0, 1, 0)]), "linux.uidMappings[0].size", /greater than 0/);
    assertHasProblem(withUid([map(0, 2 ** 32 - 1, 2)]), "linux.uidMappings[0]", /last 32-bit id/);
    assertOneProblem(
      withUid([map(0, 1000, 10), map(5, 5000, 10)]),
      "linux.uidMappings[1]",
      /overlaps linux.uidMappings\[0\]/,
    );
    assertOneProblem(
      withUid([map(0, 1000, 10), map(100, 1005, 10)]),
      "linux.uidMappings[1]",
      /overlaps/,
    );
    const many = Array.from({ length: 341 }, (_, i) => map(i, 1000 + i, 1));
    assertOneProblem(withUid(many), "linux.uidMappings", /at most 340/);
  });

  test("timeOffsets need a new time namespace", () => {
    const offsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: -3 } };
    assertOneProblem(
      check({ "linux.timeOffsets": offsets }),
      "linux.timeOffsets",
      /time namespace isn't enabled/,
    );
    assertValid(check({ "linux.timeOffsets": offsets, [`${NS}[5]`]: { type: "time" } }));
    assertOneProblem(
      check({
        "linux.timeOffsets": offsets,
        [`${NS}[5]`]: { type: "time", path: "/proc/1/ns/time" },
      }),
      "linux.timeOffsets",
      /both namespace path and time offsets/,
    );
  });

  test("timeOffsets name a known clock and keep nanoseconds under a second", () => {
    const time = { [`${NS}[5]`]: { type: "time" } };
    assertOneProblem(
      check({ ...time, "linux.timeOffsets": { realtime: { secs: 1 } } }),
      "linux.timeOffsets.realtime",
      /monotonic or boottime/,
    );
    assertOneProblem(
      check({ ...time, "linux.timeOffsets": { boottime: { nanosecs: 1e9 } } }),
      "linux.timeOffsets.boottime.nanosecs",
      /999999999/,
    );
  });
});

describe("validateSpec: sysctl (runc's rules)", () => {
  const sysctl = (key: string, changes: Record<string, unknown> = {}) =>
    check({ ...changes, "linux.sysctl": { [key]: "1" } });
  const path = (key: string) => `linux.sysctl[${JSON.stringify(key)}]`;

  test("IPC sysctls need an IPC namespace", () => {
    assertValid(sysctl("kernel.shmmax"));
    assertValid(sysctl("fs.mqueue.msg_max"));
    assertOneProblem(
      sysctl("kernel.msgmax", { [`${NS}[2]`]: undefined }),
      path("kernel.msgmax"),
      /not allowed in the hosts ipc namespace/,
    );
  });

  test("net.* needs a network namespace, new or joined", () => {
    assertValid(sysctl("net.ipv4.ip_forward"));
    assertValid(sysctl("net.ipv4.ip_forward", { [`${NS}[1].path`]: "/run/netns/a" }));
    assertOneProblem(
      sysctl("net.ipv4.ip_forward", { [`${NS}[1]`]: undefined }),
      path("net.ipv4.ip_forward"),
      /not allowed in host network namespace/,
    );
  });

  test("kernel.domainname goes with UTS; kernel.hostname conflicts with the hostname field", () => {
    assertValid(sysctl("kernel.domainname"));
    assertOneProblem(
      sysctl("kernel.hostname"),
      path("kernel.hostname"),
      /conflicts with the OCI "hostname"/,
    );
    assertOneProblem(
      sysctl("kernel.domainname", { [`${NS}[3]`]: undefined, hostname: undefined }),
      path("kernel.domainname"),
      /not in a separate kernel namespace/,
    );
  });

  test("sysctls of no namespace are refused", () => {
    assertOneProblem(
      sysctl("vm.swappiness"),
      path("vm.swappiness"),
      /not in a separate kernel namespace/,
    );
    assertOneProblem(sysctl("kernel.pid_max"), path("kernel.pid_max"), /not in a separate/);
  });

  test("the slash form is read like sysctl(8) reads it", () => {
    assertValid(sysctl("net/ipv4/conf/eno2.100/rp_filter"));
    assertOneProblem(
      sysctl("kernel/shmmax", { [`${NS}[2]`]: undefined }),
      path("kernel/shmmax"),
      /"kernel.shmmax" is not allowed in the hosts ipc/,
    );
  });

  test("names with empty or parent parts are refused", () => {
    assertOneProblem(sysctl("net..ipv4"), path("net..ipv4"), /invalid sysctl name/);
    assertOneProblem(sysctl("net/../kernel/x"), path("net/../kernel/x"), /invalid sysctl name/);
    assertOneProblem(
      check({ "linux.sysctl": { "net.core.somaxconn": 1024 } }),
      path("net.core.somaxconn"),
      /string/,
    );
  });
});

describe("validateSpec: devices, resources, the rest of linux", () => {
  test("device types are c, b, u and p; numbers are required except for p", () => {
    const dev = (d: object) => check({ "linux.devices": [d] });
    for (const type of ["c", "b", "u"]) {
      assertValid(
        dev({ path: "/dev/x", type, major: 1, minor: 2, fileMode: 0o600, uid: 0, gid: 0 }),
      );
    }
    assertValid(dev({ path: "/dev/fifo", type: "p" }));
    assertOneProblem(
      dev({ path: "/dev/x", type: "x", major: 1, minor: 1 }),
      "linux.devices[0].type",
      /invalid device type "x"/,
    );
    assertOneProblem(
      dev({ path: "/dev/x", type: "c", minor: 1 }),
      "linux.devices[0].major",
      /is required/,
    );
    assertOneProblem(
      dev({ path: "dev/x", type: "c", major: 1, minor: 1 }),
      "linux.devices[0].path",
      /absolute/,
    );
  });

  test("a repeated device path is warned about", () => {
    const d = { path: "/dev/x", type: "c", major: 1, minor: 1 };
    const v = check({ "linux.devices": [d, d] });
    assertValid(v);
    assertWarning(v, "linux.devices[1].path", /same path as linux.devices\[0\]/);
  });

  test("device cgroup rules need an access of r, w and m", () => {
    const r = (rule: object) => check({ "linux.resources.devices": [rule] });
    assertValid(r({ allow: true, type: "c", major: 1, minor: -1, access: "rwm" }));
    assertOneProblem(r({ allow: false }), "linux.resources.devices[0].access", /cannot be empty/);
    assertOneProblem(
      r({ allow: false, access: "rx" }),
      "linux.resources.devices[0].access",
      /r, w and m/,
    );
    assertOneProblem(
      r({ allow: true, type: "u", access: "r" }),
      "linux.resources.devices[0].type",
      /one of "", "a", "b", "c", got "u"/,
    );
    assertOneProblem(r({ access: "r" }), "linux.resources.devices[0].allow", /is required/);
  });

  test("every resource kind is type-checked", () => {
    const full = {
      devices: [{ allow: false, access: "rwm" }],
      memory: {
        limit: -1,
        reservation: 1,
        swap: 2,
        swappiness: 60,
        disableOOMKiller: true,
        useHierarchy: true,
        checkBeforeUpdate: true,
      },
      cpu: {
        shares: 1024,
        quota: -1,
        burst: 0,
        period: 100000,
        realtimeRuntime: 0,
        realtimePeriod: 0,
        cpus: "0-1",
        mems: "0",
        idle: 1,
      },
      pids: { limit: 100 },
      blockIO: {
        weight: 500,
        leafWeight: 10,
        weightDevice: [{ major: 8, minor: 0, weight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 1 }],
      },
      hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
      network: { classID: 1, priorities: [{ name: "eth0", priority: 5 }] },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
      unified: { "memory.high": "max", "io.weight": "default 100" },
    };
    assertValid(check({ "linux.resources": full }));
    const bad = (changes: Record<string, unknown>, path: string, message: RegExp) =>
      assertOneProblem(
        check({ "linux.resources": structuredClone(full), ...changes }),
        path,
        message,
      );
    const R = "linux.resources";
    bad({ [`${R}.memory.swappiness`]: 101 }, `${R}.memory.swappiness`, /0-100/);
    bad({ [`${R}.memory.limit`]: "1G" }, `${R}.memory.limit`, /integer/);
    bad({ [`${R}.cpu.shares`]: -2 }, `${R}.cpu.shares`, /uint64/);
    bad({ [`${R}.cpu.cpus`]: "0-" }, `${R}.cpu.cpus`, /CPU list/);
    bad({ [`${R}.pids.limit`]: "max" }, `${R}.pids.limit`, /integer/);
    bad({ [`${R}.blockIO.weight`]: 5 }, `${R}.blockIO.weight`, /10 to 1000/);
    bad(
      { [`${R}.blockIO.throttleReadBpsDevice[0].rate`]: undefined },
      `${R}.blockIO.throttleReadBpsDevice[0].rate`,
      /is required/,
    );
    bad({ [`${R}.hugepageLimits[0].pageSize`]: "2M" }, `${R}.hugepageLimits[0].pageSize`, /"2MB"/);
    bad(
      { [`${R}.network.priorities[0].name`]: undefined },
      `${R}.network.priorities[0].name`,
      /is required/,
    );
    bad({ [`${R}.rdma.mlx5_1.hcaHandles`]: -1 }, `${R}.rdma.mlx5_1.hcaHandles`, /uint32/);
    bad(
      { [`${R}.unified`]: { "../memory.max": "1" } },
      `${R}.unified["../memory.max"]`,
      /no slashes/,
    );
  });

  test("deprecated kernel memory limits are accepted with a warning", () => {
    const v = check({ "linux.resources.memory": { kernel: 1, kernelTCP: 1 } });
    assertValid(v);
    assertWarning(v, "linux.resources.memory", /kernel memory/);
  });

  test("masked and read-only paths are absolute and need a mount namespace", () => {
    assertOneProblem(
      check({ "linux.maskedPaths[0]": "proc/acpi" }),
      "linux.maskedPaths[0]",
      /absolute/,
    );
    assertOneProblem(check({ "linux.readonlyPaths[1]": 7 }), "linux.readonlyPaths[1]", /string/);
    assertOneProblem(
      check({ [`${NS}[4]`]: undefined }),
      "linux",
      /unable to restrict sys entries without a private MNT namespace/,
    );
    assertValid(
      check({ [`${NS}[4]`]: undefined, "linux.maskedPaths": [], "linux.readonlyPaths": [] }),
    );
  });

  test("netDevices: valid interface names, unique inside, a network namespace", () => {
    assertValid(check({ "linux.netDevices": { eth1: {}, enp0s3: { name: "eth2" } } }));
    assertOneProblem(
      check({ "linux.netDevices": { eth1: {} }, [`${NS}[1]`]: undefined }),
      "linux.netDevices",
      /without a private NET namespace/,
    );
    assertOneProblem(
      check({ "linux.netDevices": { "a/b": {} } }),
      'linux.netDevices["a/b"]',
      /interface name/,
    );
    assertOneProblem(
      check({ "linux.netDevices": { eth1: { name: "x".repeat(16) } } }),
      "linux.netDevices.eth1.name",
      /interface name/,
    );
    assertOneProblem(
      check({ "linux.netDevices": { eth1: { name: "eth9" }, eth9: {} } }),
      "linux.netDevices.eth9",
      /same name in the container as linux.netDevices.eth1/,
    );
  });

  test("seccomp: known actions, arches, flags and operators", () => {
    const s = (changes: Record<string, unknown>) =>
      check({
        "linux.seccomp": { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1 },
        ...changes,
      });
    const P = "linux.seccomp";
    assertValid(
      s({
        [`${P}.architectures`]: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        [`${P}.flags`]: ["SECCOMP_FILTER_FLAG_LOG"],
        [`${P}.syscalls`]: [
          {
            names: ["read"],
            action: "SCMP_ACT_ALLOW",
            args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }],
          },
        ],
      }),
    );
    assertOneProblem(
      s({ [`${P}.defaultAction`]: "ALLOW" }),
      `${P}.defaultAction`,
      /must be one of/,
    );
    assertOneProblem(
      s({ [`${P}.defaultAction`]: "SCMP_ACT_NOTIFY", [`${P}.listenerPath`]: "/run/l" }),
      `${P}.defaultAction`,
      /cannot be used as default action/,
    );
    assertOneProblem(
      s({ [`${P}.architectures`]: ["x86_64"] }),
      `${P}.architectures[0]`,
      /must be one of/,
    );
    assertOneProblem(s({ [`${P}.flags`]: ["TSYNC"] }), `${P}.flags[0]`, /must be one of/);
    assertOneProblem(
      s({ [`${P}.syscalls`]: [{ names: [], action: "SCMP_ACT_ALLOW" }] }),
      `${P}.syscalls[0].names`,
      /must not be empty/,
    );
    assertOneProblem(
      s({
        [`${P}.syscalls`]: [
          {
            names: ["read"],
            action: "SCMP_ACT_ALLOW",
            args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }],
          },
        ],
      }),
      `${P}.syscalls[0].args[0].index`,
      /0 to 5/,
    );
    assertOneProblem(
      s({ [`${P}.syscalls`]: [{ names: ["mount"], action: "SCMP_ACT_NOTIFY" }] }),
      `${P}.listenerPath`,
      /SCMP_ACT_NOTIFY/,
    );
  });

  test("rootfsPropagation, personality, intelRdt, memoryPolicy", () => {
    assertValid(check({ "linux.rootfsPropagation": "rslave" }));
    assertValid(check({ "linux.rootfsPropagation": "" }));
    assertOneProblem(
      check({ "linux.rootfsPropagation": "rec" }),
      "linux.rootfsPropagation",
      /must be one of/,
    );
    assertValid(check({ "linux.personality": { domain: "LINUX32" } }));
    assertOneProblem(
      check({ "linux.personality": { domain: "LINUX64" } }),
      "linux.personality.domain",
      /invalid personality domain LINUX64/,
    );
    assertValid(
      check({
        "linux.intelRdt": {
          closID: "guaranteed_group",
          l3CacheSchema: "L3:0=7f0",
          enableMonitoring: true,
        },
      }),
    );
    assertOneProblem(
      check({ "linux.intelRdt": { closID: "../x" } }),
      "linux.intelRdt.closID",
      /invalid intelRdt.ClosID/,
    );
    assertValid(
      check({
        "linux.memoryPolicy": { mode: "MPOL_BIND", nodes: "0-1", flags: ["MPOL_F_STATIC_NODES"] },
      }),
    );
    assertOneProblem(
      check({ "linux.memoryPolicy": { mode: "MPOL_BIND" } }),
      "linux.memoryPolicy.nodes",
      /required with mode MPOL_BIND/,
    );
    assertOneProblem(
      check({ "linux.memoryPolicy": { mode: "MPOL_LOCAL", nodes: "0" } }),
      "linux.memoryPolicy.nodes",
      /must be empty/,
    );
  });
});

describe("validateSpec: options", () => {
  test("extraProblems runs on a well-shaped spec and its problems are reported", () => {
    let seen: Spec | undefined;
    const v = check(
      { hostname: "box" },
      {
        extraProblems: (spec) => {
          seen = spec;
          return [{ path: "hostname", message: "not on this host" }];
        },
      },
    );
    assert.equal(seen?.hostname, "box");
    assertOneProblem(v, "hostname", /not on this host/);
  });

  test("extraProblems is not run when the shape is broken", () => {
    let called = false;
    const v = check(
      { "process.args": "sh" },
      {
        extraProblems: () => {
          called = true;
          return [];
        },
      },
    );
    assert.equal(called, false);
    assertOneProblem(v, "process.args", /array/);
  });
});

describe("formatProblems", () => {
  test("one problem is one line", () => {
    assert.equal(
      formatProblems([{ path: "process.cwd", message: "must be an absolute path" }]),
      "invalid config.json: process.cwd: must be an absolute path",
    );
  });

  test("several problems are counted, one indented line each", () => {
    assert.equal(
      formatProblems([
        { path: "", message: "must be an object" },
        { path: "linux.namespaces[2].type", message: "bad" },
      ]),
      "invalid config.json: 2 problems:\n  must be an object\n  linux.namespaces[2].type: bad",
    );
  });
});

describe("validateProcess (exec --process)", () => {
  test("checks a process.json by the process rules, with paths relative to it", () => {
    const ok = validateProcess({ user: { uid: 0, gid: 0 }, args: ["ps"], cwd: "/", env: ["A=b"] });
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ok.process.args, ["ps"]);
    const bad = validateProcess({
      args: [],
      cwd: "tmp",
      rlimits: [{ type: "RLIMIT_X", soft: 1, hard: 1 }],
    });
    assert.deepEqual(
      bad.problems.map((p) => p.path),
      ["args", "cwd", "rlimits[0].type"],
    );
    assert.deepEqual(bad.warnings, ["user: missing, taken as uid 0 and gid 0"]);
  });

  test("a process.json that is not an object is one problem at its root", () => {
    assert.deepEqual(validateProcess([]).problems, [
      { path: "", message: "must be an object, got an array" },
    ]);
  });
});
