import assert from "node:assert/strict";
import { closeSync, readlinkSync } from "node:fs";
import { describe, test } from "node:test";
import { MSG, step } from "../../../src/setup/program.ts";
import { CLONE, errorOf, runProgram, skipUnlessRoot } from "../../helpers/executor.ts";

const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SYS_sethostname = process.arch === "arm64" ? 161 : 170;

/** Classic BPF instructions: { u16 code, u8 jt, u8 jf, u32 k }. */
function bpf(...insns: [number, number, number, number][]): Uint8Array {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return b;
}
const RET = 0x06;
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const allowAll = bpf([RET, 0, 0, SECCOMP_RET_ALLOW]);
const denySethostname = bpf(
  [LD_W_ABS, 0, 0, 0],
  [JEQ_K, 0, 1, SYS_sethostname],
  [RET, 0, 0, SECCOMP_RET_ERRNO | 1],
  [RET, 0, 0, SECCOMP_RET_ALLOW],
);
const noNewPrivs = step("prctl", {
  option: PR_SET_NO_NEW_PRIVS,
  arg2: 1,
  arg3: 0,
  arg4: 0,
  arg5: 0,
});

describe("executor: seccomp", { skip: skipUnlessRoot(), timeout: 60_000 }, () => {
  test("an allow-all filter loads and the process runs in filter mode", async () => {
    const r = await runProgram({
      steps: [
        noNewPrivs,
        step("seccomp", { flags: 0, filter: allowAll, tag: 0 }),
        step("exec", {
          candidates: ["/bin/grep"],
          argv: ["grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status"],
          envp: [],
        }),
      ],
    });
    assert.equal(errorOf(r), undefined);
    assert.equal(r.output, "NoNewPrivs:\t1\nSeccomp:\t2\n");
  });

  test("the filter acts: sethostname gets EPERM", async () => {
    const r = await runProgram({
      flags: CLONE.NEWUTS,
      steps: [
        noNewPrivs,
        step("seccomp", { flags: 0, filter: denySethostname, tag: 0 }),
        step("exec", { candidates: ["/bin/busybox"], argv: ["hostname", "x"], envp: [] }),
      ],
    });
    assert.equal(errorOf(r), undefined);
    assert.match(r.output, /not permitted/i);
    assert.deepEqual(r.status, { code: 1, signal: null });
  });

  test("with NEW_LISTENER the listener fd arrives as FD(tag)", async () => {
    const r = await runProgram({
      steps: [
        noNewPrivs,
        step("seccomp", { flags: SECCOMP_FILTER_FLAG_NEW_LISTENER, filter: allowAll, tag: 99 }),
        step("exec", { candidates: ["/bin/true"], argv: ["true"], envp: [] }),
      ],
    });
    assert.equal(errorOf(r), undefined);
    assert.deepEqual(
      r.messages.map((m) => [m.type, m.step, m.value]),
      [[MSG.FD, 1, 99n]],
    );
    assert.equal(r.fds.length, 1);
    const fd = r.fds[0] as number;
    try {
      assert.equal(readlinkSync(`/proc/self/fd/${fd}`), "anon_inode:seccomp notify");
    } finally {
      closeSync(fd);
    }
  });

  test("a filter that is not whole instructions fails with EINVAL at its step", async () => {
    const r = await runProgram({
      steps: [noNewPrivs, step("seccomp", { flags: 0, filter: allowAll.subarray(0, 7), tag: 0 })],
    });
    assert.deepEqual(errorOf(r), { type: MSG.ERROR, step: 1, errno: 22, value: 0n });
  });
});
