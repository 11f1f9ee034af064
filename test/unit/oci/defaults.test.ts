import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  DEFAULT_DEV_SYMLINKS,
  DEFAULT_DEVICE_RULES,
  DEFAULT_DEVICES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultSpec,
} from "../../../src/oci/defaults.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

test("defaultSpec() serialises to the bytes runc 1.1's `runc spec` wrote", () => {
  assert.equal(JSON.stringify(defaultSpec(), null, "\t"), fixture("runc-1.1-spec.golden"));
});

test("defaultSpec({ rootless }) serialises to `runc spec --rootless` run as root", () => {
  const spec = defaultSpec({ rootless: true, hostUid: 0, hostGid: 0 });
  assert.equal(JSON.stringify(spec, null, "\t"), fixture("runc-1.1-spec-rootless-euid0.golden"));
});

test("rootless maps container root to the given host ids and drops what needs privilege", () => {
  const spec = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1001 });
  const linux = spec.linux!;
  assert.deepEqual(linux.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(linux.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  assert.deepEqual(
    linux.namespaces!.map((n) => n.type),
    ["pid", "ipc", "uts", "mount", "user"],
  );
  assert.equal(linux.resources, undefined);
  const sys = spec.mounts!.find((m) => m.destination === "/sys")!;
  assert.deepEqual(sys, {
    destination: "/sys",
    type: "none",
    source: "/sys",
    options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
  });
  const pts = spec.mounts!.find((m) => m.destination === "/dev/pts")!;
  assert.equal(pts.options!.includes("gid=5"), false);
});

test("rootless defaults to the caller's effective ids", () => {
  const spec = defaultSpec({ rootless: true });
  assert.equal(spec.linux!.uidMappings![0]!.hostID, process.geteuid!());
  assert.equal(spec.linux!.gidMappings![0]!.hostID, process.getegid!());
});

test("a cgroup namespace is added last on cgroup v2 hosts, as runc does", () => {
  const types = (o: Parameters<typeof defaultSpec>[0]) =>
    defaultSpec(o).linux!.namespaces!.map((n) => n.type);
  assert.deepEqual(types({ cgroupNamespace: true }), [
    "pid",
    "network",
    "ipc",
    "uts",
    "mount",
    "cgroup",
  ]);
  assert.deepEqual(types({ cgroupNamespace: true, rootless: true, hostUid: 1, hostGid: 1 }), [
    "pid",
    "ipc",
    "uts",
    "mount",
    "cgroup",
    "user",
  ]);
});

test("args replace sh, and every call returns a fresh object", () => {
  const a = defaultSpec({ args: ["/bin/true"] });
  assert.deepEqual(a.process!.args, ["/bin/true"]);
  a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  a.linux!.maskedPaths!.pop();
  const b = defaultSpec();
  assert.deepEqual(b.process!.args, ["sh"]);
  assert.deepEqual(b.process!.capabilities!.bounding, [
    "CAP_AUDIT_WRITE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
  ]);
  assert.deepEqual(b.linux!.maskedPaths, DEFAULT_MASKED_PATHS);
  assert.deepEqual(b.linux!.readonlyPaths, DEFAULT_READONLY_PATHS);
});

test("the default devices are runc's six, 0666 root-owned character devices", () => {
  const byPath = Object.fromEntries(DEFAULT_DEVICES.map((d) => [d.path, [d.major, d.minor]]));
  assert.deepEqual(byPath, {
    "/dev/null": [1, 3],
    "/dev/zero": [1, 5],
    "/dev/full": [1, 7],
    "/dev/random": [1, 8],
    "/dev/urandom": [1, 9],
    "/dev/tty": [5, 0],
  });
  for (const d of DEFAULT_DEVICES) {
    assert.deepEqual([d.type, d.fileMode, d.uid, d.gid], ["c", 0o666, 0, 0]);
  }
});

test("the default cgroup rules allow mknod, the six devices, the ptys and ptmx", () => {
  const rules = DEFAULT_DEVICE_RULES.map((r) => `${r.type} ${r.major}:${r.minor} ${r.access}`);
  assert.deepEqual(rules, [
    "c -1:-1 m",
    "b -1:-1 m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 136:-1 rwm",
    "c 5:2 rwm",
  ]);
  assert.ok(DEFAULT_DEVICE_RULES.every((r) => r.allow));
});

test("the /dev symlinks point into /proc/self/fd, and ptmx into the container's devpts", () => {
  assert.deepEqual(
    DEFAULT_DEV_SYMLINKS.map((l) => `${l.path} -> ${l.target}`),
    [
      "/dev/fd -> /proc/self/fd",
      "/dev/stdin -> /proc/self/fd/0",
      "/dev/stdout -> /proc/self/fd/1",
      "/dev/stderr -> /proc/self/fd/2",
      "/dev/ptmx -> pts/ptmx",
    ],
  );
});
