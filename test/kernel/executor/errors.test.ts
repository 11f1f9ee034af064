import assert from "node:assert/strict";
import { closeSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encodeProgram, MSG, REPLY, step } from "../../../src/setup/program.ts";
import {
  CLONE,
  errorOf,
  execSh,
  makeBusyboxRootfs,
  rootfsSteps,
  runProgram,
  skipUnlessRoot,
} from "../../helpers/executor.ts";

const ENOENT = 2;
const EACCES = 13;
const EBADMSG = 74;
const ENODEV = 19;
const FLAGS = CLONE.NEWNS | CLONE.NEWPID;

describe("executor: failures are reported as (step, errno)", {
  skip: skipUnlessRoot(),
  timeout: 60_000,
}, () => {
  let rootfs: { path: string; cleanup: () => void };
  before(() => {
    rootfs = makeBusyboxRootfs();
    writeFileSync(join(rootfs.path, "not-executable"), "#!/bin/sh\n", { mode: 0o644 });
  });
  after(() => rootfs.cleanup());

  test("a mount on a missing path fails at that step with ENOENT", async () => {
    const steps = [
      ...rootfsSteps(rootfs.path),
      step("mount", {
        source: "tmpfs",
        target: "/no/such/dir",
        fstype: "tmpfs",
        flags: 0,
        data: "",
        how: 1,
      }),
      execSh("echo should not run"),
    ];
    const r = await runProgram({ flags: FLAGS, steps });
    assert.deepEqual(errorOf(r), {
      type: MSG.ERROR,
      step: steps.length - 2,
      errno: ENOENT,
      value: 0n,
    });
    assert.deepEqual(r.status, { code: 1, signal: null });
    assert.equal(r.output, "");
  });

  test("exec of a missing binary fails at the exec step with ENOENT", async () => {
    const steps = [
      ...rootfsSteps(rootfs.path),
      step("pivot-root", {}),
      step("exec", {
        candidates: ["/bin/nothere", "/usr/bin/nothere"],
        argv: ["nothere"],
        envp: [],
      }),
    ];
    const r = await runProgram({ flags: FLAGS, steps });
    assert.deepEqual(errorOf(r), {
      type: MSG.ERROR,
      step: steps.length - 1,
      errno: ENOENT,
      value: 0n,
    });
    assert.deepEqual(r.status, { code: 1, signal: null });
  });

  test("exec reports EACCES over ENOENT, like execvp, and tries every candidate", async () => {
    const steps = [
      ...rootfsSteps(rootfs.path),
      step("pivot-root", {}),
      step("find-exec", { candidates: ["/nothere", "/not-executable", "/bin/true"] }),
      step("exec", {
        candidates: ["/nothere", "/not-executable", "/nothere2"],
        argv: ["x"],
        envp: [],
      }),
    ];
    const r = await runProgram({ flags: FLAGS, steps });
    assert.deepEqual(errorOf(r), {
      type: MSG.ERROR,
      step: steps.length - 1,
      errno: EACCES,
      value: 0n,
    });
    const ok = await runProgram({
      flags: FLAGS,
      steps: [
        ...steps.slice(0, -1),
        step("exec", { candidates: ["/nothere", "/bin/echo"], argv: ["echo", "second"], envp: [] }),
      ],
    });
    assert.equal(ok.output, "second\n");
  });

  test("find-exec fails with ENOENT when no candidate exists", async () => {
    const steps = [
      step("find-exec", { candidates: ["/no/such/binary"] }),
      step("exec", { candidates: ["/bin/true"], argv: [], envp: [] }),
    ];
    const r = await runProgram({ steps });
    assert.deepEqual(errorOf(r), { type: MSG.ERROR, step: 0, errno: ENOENT, value: 0n });
  });

  test("mask-path refuses a /dev/null that is not the null device (CVE-2025-31133)", async () => {
    const steps = [
      ...rootfsSteps(rootfs.path),
      step("mkfile-in-root", { path: "/dev/null", mode: 0o644 }),
      step("pivot-root", {}),
      step("mask-path", { path: "/proc/timer_list" }),
      execSh("echo should not run"),
    ];
    const r = await runProgram({ flags: FLAGS, steps });
    assert.deepEqual(errorOf(r), {
      type: MSG.ERROR,
      step: steps.length - 2,
      errno: ENODEV,
      value: 0n,
    });
  });

  test("a symlink out of the root is resolved inside it", async () => {
    const steps = [
      ...rootfsSteps(rootfs.path),
      step("symlink-in-root", { target: "../../../../../etc", path: "/escape" }),
      step("mkfile-in-root", { path: "/escape/hood-was-here", mode: 0o644 }),
      step("pivot-root", {}),
      execSh("ls /etc/hood-was-here"),
    ];
    const r = await runProgram({ flags: FLAGS, steps });
    assert.equal(errorOf(r), undefined);
    assert.equal(r.output, "/etc/hood-was-here\n", "created in the rootfs's /etc");
    assert.throws(() => closeSync(openSync("/etc/hood-was-here", "r")), { code: "ENOENT" });
  });

  test("a malformed program does nothing and reports EBADMSG", async () => {
    const good = encodeProgram([execSh("echo ran")]);
    const badMagic = Buffer.from(good);
    badMagic.writeUInt32LE(0x12345678, 0);
    const r1 = await runProgram({ steps: [], raw: badMagic });
    assert.deepEqual(errorOf(r1), { type: MSG.ERROR, step: -1, errno: EBADMSG, value: 0n });
    const truncated = good.subarray(0, good.length - 4);
    const r2 = await runProgram({ steps: [], raw: truncated });
    assert.deepEqual(errorOf(r2), { type: MSG.ERROR, step: 0, errno: EBADMSG, value: 0n });
    const unknownOp = Buffer.from(good);
    unknownOp.writeUInt32LE(999, 16);
    const r3 = await runProgram({ steps: [], raw: unknownOp });
    assert.deepEqual(errorOf(r3), { type: MSG.ERROR, step: 0, errno: EBADMSG, value: 0n });
    // Only binary fields (a filter, file data) may hold NULs: a path must not be cut short.
    const nulPath = encodeProgram([
      step("sethostname", { name: Uint8Array.from([0x61, 0, 0x62]) }),
    ]);
    const r4 = await runProgram({ steps: [], raw: nulPath });
    assert.deepEqual(errorOf(r4), { type: MSG.ERROR, step: 0, errno: EBADMSG, value: 0n });
    for (const r of [r1, r2, r3, r4]) {
      assert.equal(r.output, "");
      assert.deepEqual(r.status, { code: 1, signal: null });
    }
  });

  test("sync waits for GO; report only notifies", async () => {
    const seen: string[] = [];
    const r = await runProgram({
      steps: [
        step("report", { tag: 7 }),
        step("sync", { tag: 42 }),
        step("exec", { candidates: ["/bin/echo"], argv: ["echo", "after sync"], envp: [] }),
      ],
      onSync: async (m) => {
        seen.push(`sync ${m.step} ${m.value}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return REPLY.GO;
      },
    });
    assert.deepEqual(seen, ["sync 1 42"]);
    assert.deepEqual(
      r.messages.map((m) => [m.type, m.step, m.value]),
      [
        [MSG.REPORT, 0, 7n],
        [MSG.SYNC, 1, 42n],
      ],
    );
    assert.equal(r.output, "after sync\n");
    assert.deepEqual(r.status, { code: 0, signal: null });
  });

  test("sync answered with ABORT ends the executor with status 1", async () => {
    const r = await runProgram({
      steps: [
        step("sync", { tag: 1 }),
        step("exec", { candidates: ["/bin/echo"], argv: ["echo", "no"], envp: [] }),
      ],
      onSync: () => REPLY.ABORT,
    });
    assert.equal(r.output, "");
    assert.equal(errorOf(r), undefined);
    assert.deepEqual(r.status, { code: 1, signal: null });
  });
});
