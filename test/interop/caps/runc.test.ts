/**
 * planCapabilities + capsAfterExec against runc: for each capability configuration, the Cap
 * lines a container's process shows under runc equal the ones hood predicts from the plan.
 * This checks the plan without hood's runtime; the runtime's own test compares it with runc.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type CapabilitySpec,
  capNumbers,
  capsAfterExec,
  formatMask,
  lastCap,
  ociName,
  parseProcStatus,
  planCapabilities,
  planSets,
  readProcessCaps,
} from "../../../src/linux/capabilities.ts";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const BUSYBOX = "/bin/busybox";
const skip =
  process.getuid?.() !== 0
    ? "needs root to run runc"
    : !has("runc")
      ? "runc is not installed"
      : spawnSync(BUSYBOX, ["true"]).status !== 0
        ? `${BUSYBOX} (busybox-static) is not installed`
        : false;

const DOCKER_DEFAULTS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];
const RUNC_SPEC_DEFAULTS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

describe("the plan predicts the capabilities runc gives a container", { skip }, () => {
  let dir = "";
  let n = 0;
  const self = readProcessCaps(process.pid);
  const LAST = lastCap();
  // runc cannot grant what this process lacks (it fails at capset), so "everything" means
  // everything held here.
  const held = capNumbers(self.bounding & self.permitted)
    .map(ociName)
    .filter((name): name is string => name !== undefined);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hood-caps-runc-"));
    for (const d of ["rootfs/bin", "rootfs/proc", "rootfs/dev", "rootfs/sys", "state"]) {
      mkdirSync(join(dir, d), { recursive: true });
    }
    copyFileSync(BUSYBOX, join(dir, "rootfs/bin/busybox"));
    const r = spawnSync("runc", ["spec"], { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function runUnderRunc(capabilities: CapabilitySpec, uid: number) {
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    config.root.path = join(dir, "rootfs");
    config.process.terminal = false;
    config.process.args = ["/bin/busybox", "cat", "/proc/self/status"];
    config.process.user = { uid, gid: uid };
    config.process.capabilities = capabilities;
    const bundle = join(dir, `b${n}`);
    mkdirSync(bundle);
    writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
    const id = `hood-caps-${process.pid}-${n++}`;
    const r = spawnSync("runc", ["--root", join(dir, "state"), "run", "-b", bundle, id], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `runc run: ${r.stderr}`);
    return { status: parseProcStatus(r.stdout), stderr: r.stderr };
  }

  function check(spec: CapabilitySpec, uid: number) {
    const plan = planCapabilities(spec, {
      lastCap: LAST,
      changesUid: uid !== 0,
      holder: { bounding: self.bounding, permitted: self.permitted },
    });
    assert.deepEqual(plan.problems, []);
    const expected = capsAfterExec(planSets(plan), { uid });
    const { status, stderr } = runUnderRunc(spec, uid);
    assert.deepEqual(status.uids, [uid, uid, uid, uid]);
    for (const set of ["effective", "permitted", "inheritable", "bounding", "ambient"] as const) {
      assert.equal(formatMask(status[set]), formatMask(expected[set]), set);
    }
    return { plan, status, stderr };
  }

  test("runc spec's defaults, whose ambient caps are not inheritable", () => {
    const d = RUNC_SPEC_DEFAULTS;
    const { plan, status } = check({ bounding: d, effective: d, permitted: d, ambient: d }, 0);
    assert.equal(plan.warnings.length, 3);
    assert.equal(status.ambient, 0n);
  });

  test("an empty capabilities object", () => {
    const { status } = check({}, 0);
    assert.equal(status.bounding | status.permitted, 0n);
  });

  test("every capability held, in all five sets", () => {
    const all = held;
    check({ bounding: all, effective: all, permitted: all, inheritable: all, ambient: all }, 0);
  });

  test("docker's default set", () => {
    const d = DOCKER_DEFAULTS;
    const { status } = check({ bounding: d, effective: d, permitted: d }, 0);
    assert.equal(status.bounding, 0xa80425fbn);
  });

  test("inheritable caps without ambient ones", () => {
    const d = DOCKER_DEFAULTS;
    check({ bounding: d, effective: d, permitted: d, inheritable: ["CAP_CHOWN", "CAP_KILL"] }, 0);
  });

  test("a non-root user with CAP_NET_BIND_SERVICE ambient", () => {
    const d = ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"];
    const { status } = check(
      {
        bounding: d,
        effective: d,
        permitted: d,
        inheritable: d,
        ambient: ["CAP_NET_BIND_SERVICE"],
      },
      1000,
    );
    assert.equal(status.effective, 1n << 10n);
  });

  test("a non-root user without ambient caps", () => {
    const all = held;
    const { status } = check(
      { bounding: all, effective: all, permitted: all, inheritable: all },
      1000,
    );
    assert.equal(status.effective | status.permitted, 0n);
  });

  test("a non-root user with every held capability ambient", () => {
    const all = held;
    check({ bounding: all, effective: all, permitted: all, inheritable: all, ambient: all }, 1000);
  });

  test("a name the kernel does not know is skipped with a warning by both", () => {
    const d = ["CAP_KILL", "CAP_FROB"];
    const { plan, stderr } = check({ bounding: d, effective: d, permitted: d, ambient: d }, 0);
    assert.match(stderr, /CAP_FROB/);
    assert.match(plan.warnings[0]!, /ignoring capability CAP_FROB/);
  });
});
