import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { addon } from "../../../src/native/addon.ts";
import {
  decodeMessage,
  encodeProgram,
  MSG,
  REPLY,
  START,
  step,
} from "../../../src/setup/program.ts";
import {
  CLONE,
  errorOf,
  executorMemfd,
  runProgram,
  SOCK_SEQPACKET,
  skipUnlessRoot,
} from "../../helpers/executor.ts";

const echo = (text: string) =>
  step("exec", { candidates: ["/bin/echo"], argv: ["echo", text], envp: [] });

/** Spawns an executor that stops at a sync step; returns its pid, pidfd and our socket end. */
async function spawnHeld(flags = 0n) {
  const native = addon();
  const [parent, child] = native.socketpair(SOCK_SEQPACKET);
  const devnull = openSync("/dev/null", "r+");
  const { pid, pidfd } = native.spawn({
    flags,
    cgroupFd: -1,
    syncFd: child,
    executorFd: executorMemfd(),
    passFds: [],
    stdio: [devnull, devnull, devnull],
  });
  closeSync(child);
  closeSync(devnull);
  native.sendMsg(parent, Buffer.from([START.GO]), []);
  native.sendMsg(
    parent,
    encodeProgram([
      step("sync", { tag: 5 }),
      step("exec", { candidates: ["/bin/true"], argv: ["true"], envp: [] }),
    ]),
    [],
  );
  await native.waitReadable(parent);
  const got = native.recvMsg(parent, 64, 0);
  assert.ok(got);
  assert.equal(decodeMessage(got.data).type, MSG.SYNC);
  return { pid, pidfd, parent };
}

function mapsLines(): number {
  return readFileSync("/proc/self/maps", "utf8").split("\n").length;
}

describe("spawn: the clone3 child", { skip: skipUnlessRoot(), timeout: 60_000 }, () => {
  test("runs a program in new namespaces and is reaped by pidfd", async () => {
    const r = await runProgram({
      flags:
        CLONE.NEWUSER |
        CLONE.NEWNS |
        CLONE.NEWPID |
        CLONE.NEWNET |
        CLONE.NEWUTS |
        CLONE.NEWIPC |
        CLONE.NEWCGROUP,
      maps: { uid: "0 0 1", gid: "0 0 1" },
      steps: [echo("hello")],
    });
    assert.equal(r.output, "hello\n");
    assert.deepEqual(r.status, { code: 0, signal: null });
  });

  test("exits 127 without a word when the parent sends no start byte", async () => {
    const r = await runProgram({ steps: [echo("no")], start: null });
    assert.deepEqual(r.status, { code: 127, signal: null });
    assert.equal(r.output, "");
  });

  test("exits 127 on an unknown start byte", async () => {
    const r = await runProgram({ steps: [echo("no")], start: 0x78 });
    assert.deepEqual(r.status, { code: 127, signal: null });
    assert.deepEqual(r.messages, []);
  });

  test("reports ERROR(-1, errno) when the executor cannot be exec'd", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hood-spawn-"));
    writeFileSync(join(dir, "plain"), "not a program\n", { mode: 0o644 });
    const notExecutable = openSync(join(dir, "plain"), "r");
    rmSync(dir, { recursive: true });
    try {
      const r = await runProgram({ steps: [echo("no")], executorFd: notExecutable });
      assert.deepEqual(errorOf(r), { type: MSG.ERROR, step: -1, errno: 13, value: 0n });
      assert.deepEqual(r.status, { code: 127, signal: null });
    } finally {
      closeSync(notExecutable);
    }
  });

  test("a flag outside the namespace bits is refused", () => {
    const native = addon();
    assert.throws(
      () =>
        native.spawn({
          flags: 0x100n,
          cgroupFd: -1,
          syncFd: 0,
          executorFd: 0,
          passFds: [],
          stdio: [0, 1, 2],
        }),
      TypeError,
    );
  });

  test("pidfdTryWait, pidfdSendSignal and pidfdWait on a held executor", async () => {
    const native = addon();
    const { pidfd, parent } = await spawnHeld();
    assert.equal(native.pidfdTryWait(pidfd), null);
    native.pidfdSendSignal(pidfd, 9);
    assert.deepEqual(await native.pidfdWait(pidfd), { code: null, signal: 9 });
    assert.throws(() => native.pidfdTryWait(pidfd), { code: "ECHILD" });
    closeSync(pidfd);
    closeSync(parent);
  });

  test("the executor runs from a sealed memfd that cannot be written (CVE-2019-5736)", async () => {
    const native = addon();
    const { pid, pidfd, parent } = await spawnHeld(CLONE.NEWNS | CLONE.NEWPID);
    try {
      assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:hood-executor \(deleted\)$/);
      assert.throws(
        () => openSync(`/proc/${pid}/exe`, "r+"),
        (e: NodeJS.ErrnoException) => ["ETXTBSY", "EPERM"].includes(e.code ?? ""),
      );
      // The memfd itself is sealed against writes, whoever holds it.
      assert.throws(() => writeSync(executorMemfd(), "x", 0), { code: "EPERM" });
      native.sendMsg(parent, Buffer.from([REPLY.GO, 0, 0, 0]), []);
      assert.deepEqual(await native.pidfdWait(pidfd), { code: 0, signal: null });
    } finally {
      closeSync(pidfd);
      closeSync(parent);
    }
  });

  test("child stacks are freed once the children have exec'd", async () => {
    await runProgram({ steps: [echo("warm up")] });
    const before = mapsLines();
    for (let i = 0; i < 60; i++)
      await runProgram({
        steps: [step("exec", { candidates: ["/bin/true"], argv: ["true"], envp: [] })],
      });
    await runProgram({ steps: [echo("sweep")] });
    // Each stack is two mappings (guard + stack): 60 unfreed stacks would add 120 lines. V8
    // and libuv map memory of their own meanwhile, so allow some growth that is not stacks.
    assert.ok(mapsLines() - before < 50, `maps grew from ${before} to ${mapsLines()}`);
  });

  test("many concurrent spawns each get their own stack", async () => {
    const runs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => runProgram({ steps: [echo(`n${i}`)] })),
    );
    runs.forEach((r, i) => {
      assert.equal(r.output, `n${i}\n`);
    });
  });
});

describe("waitReadable and pidfdWait do not hold the event loop once settled", {
  skip: skipUnlessRoot(),
}, () => {
  test("a script that awaited them exits by itself", () => {
    const script = `
      const a = require(${JSON.stringify(`${process.cwd()}/build/Release/hood_native.node`)});
      const [x, y] = a.socketpair(1);
      (async () => {
        const p = a.waitReadable(x);
        a.sendMsg(y, Buffer.from("hi"), []);
        await p;
        process.stdout.write("readable ");
      })();`;
    const out = execFileSync(process.execPath, ["-e", script], {
      encoding: "utf8",
      timeout: 10_000,
    });
    assert.equal(out, "readable ");
  });
});
