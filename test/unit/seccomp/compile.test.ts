import assert from "node:assert/strict";
import { test } from "node:test";
import { describeAction, SECCOMP_RET } from "../../../src/seccomp/actions.ts";
import { findArch } from "../../../src/seccomp/arches.ts";
import { BPF_MAXINSNS, decodeProgram } from "../../../src/seccomp/bpf.ts";
import { SECCOMP_FILTER_FLAG } from "../../../src/seccomp/flags.ts";
import { compileSeccomp, defaultProfile, defaultSeccomp } from "../../../src/seccomp/index.ts";
import type { SeccompSpec } from "../../../src/seccomp/profile.ts";
import { simulate } from "../../../src/seccomp/simulate.ts";

const x86_64 = findArch("x86_64")!;
const x86 = findArch("x86")!;
const x32 = findArch("x32")!;

function act(spec: unknown, name: string, args: bigint[] = [], opts = {}, abi = x86_64): string {
  const c = compileSeccomp(spec, { arch: "x86_64", enosys: false, ...opts });
  const nr = abi.syscalls.get(name)!;
  return describeAction(simulate(c.program, { nr, arch: abi.audit, args }, c.endian).value);
}

test("64-bit comparisons look at both halves of the argument", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      {
        names: ["read"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 0, op: "SCMP_CMP_GT", value: 0x100000005n }],
      },
    ],
  };
  assert.equal(act(spec, "read", [0x100000006n]), "ERRNO(1)");
  assert.equal(act(spec, "read", [0x100000005n]), "ALLOW");
  assert.equal(act(spec, "read", [6n]), "ALLOW");
  assert.equal(act(spec, "read", [0x200000000n]), "ERRNO(1)");
});

test("conditions of one rule are ANDed and rules of one syscall are ORed", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["write"],
        action: "SCMP_ACT_ALLOW",
        args: [
          { index: 0, op: "SCMP_CMP_EQ", value: 1 },
          { index: 2, op: "SCMP_CMP_LT", value: 100 },
        ],
      },
      {
        names: ["write"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, op: "SCMP_CMP_EQ", value: 2 }],
      },
    ],
  };
  assert.equal(act(spec, "write", [1n, 0n, 5n]), "ALLOW");
  assert.equal(act(spec, "write", [1n, 0n, 500n]), "ERRNO(1)");
  assert.equal(act(spec, "write", [2n, 0n, 500n]), "ALLOW");
  assert.equal(act(spec, "write", [3n]), "ERRNO(1)");
});

test("MASKED_EQ compares the masked argument with valueTwo", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, op: "SCMP_CMP_MASKED_EQ", value: 0x7e020000, valueTwo: 0 }],
      },
    ],
  };
  assert.equal(act(spec, "clone", [0x01200011n]), "ALLOW");
  assert.equal(act(spec, "clone", [0x10000000n]), "ERRNO(1)");
});

test("x32 calls cannot reach x86_64 rules, and i386 calls are judged by the i386 table", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }],
  };
  assert.equal(act(spec, "mkdir", [], {}, x32), "KILL_PROCESS");
  assert.equal(act(spec, "read", [], {}, x32), "KILL_PROCESS");
  assert.equal(act(spec, "mkdir", [], {}, x86), "ERRNO(1)");
  assert.equal(act(spec, "read", [], {}, x86), "ALLOW");
  const c = compileSeccomp(spec, { arch: "x86_64" });
  // -1 is how a tracer skips a call; it must not be mistaken for x32.
  assert.equal(simulate(c.program, { nr: -1, arch: x86_64.audit }, "le").value, SECCOMP_RET.ALLOW);
  assert.equal(
    simulate(c.program, { nr: 0, arch: 0x12345678 }, "le").value,
    SECCOMP_RET.KILL_PROCESS,
  );
});

test("socket rules also cover socketcall on i386, as in libseccomp", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86"],
    syscalls: [{ names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: 97 }],
  };
  const c = compileSeccomp(spec, { arch: "x86_64" });
  const socketcall = x86.syscalls.get("socketcall")!;
  assert.equal(
    simulate(c.program, { nr: socketcall, arch: x86.audit, args: [1n] }, "le").value,
    SECCOMP_RET.ERRNO | 97,
  );
  assert.equal(
    simulate(c.program, { nr: socketcall, arch: x86.audit, args: [3n] }, "le").value,
    SECCOMP_RET.ALLOW,
  );
  assert.equal(
    simulate(c.program, { nr: x86.syscalls.get("socket")!, arch: x86.audit }, "le").value,
    SECCOMP_RET.ERRNO | 97,
  );
});

test("an unconditional rule wins over conditional ones and rules equal to the default are dropped", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["read"],
        action: "SCMP_ACT_LOG",
        args: [{ index: 0, op: "SCMP_CMP_EQ", value: 0 }],
      },
      { names: ["read"], action: "SCMP_ACT_ALLOW" },
      {
        names: ["write"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 0, op: "SCMP_CMP_EQ", value: 1 }],
      },
      {
        names: ["write"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, op: "SCMP_CMP_LE", value: 5 }],
      },
    ],
  };
  assert.equal(act(spec, "read", [0n]), "ALLOW");
  assert.equal(act(spec, "write", [1n]), "ALLOW");
});

test("the ENOSYS stub answers numbers above the profile's highest with ENOSYS", () => {
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["read", "openat2"], action: "SCMP_ACT_ALLOW" }],
  };
  const c = compileSeccomp(spec, { arch: "x86_64" });
  const above = x86_64.syscalls.get("openat2")! + 1;
  assert.equal(
    describeAction(simulate(c.program, { nr: above, arch: x86_64.audit }, "le").value),
    "ERRNO(38)",
  );
  assert.equal(
    describeAction(simulate(c.program, { nr: 2, arch: x86_64.audit }, "le").value),
    "ERRNO(1)",
  );
});

test("flags: profile flags as bits, NEW_LISTENER for notify, TSYNC_ESRCH alongside TSYNC", () => {
  const c = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    flags: [
      "SECCOMP_FILTER_FLAG_TSYNC",
      "SECCOMP_FILTER_FLAG_LOG",
      "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ],
    listenerPath: "/run/agent.sock",
    listenerMetadata: "meta",
    syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }],
  });
  const F = SECCOMP_FILTER_FLAG;
  assert.equal(
    c.flags,
    F.TSYNC | F.LOG | F.SPEC_ALLOW | F.WAIT_KILLABLE_RECV | F.NEW_LISTENER | F.TSYNC_ESRCH,
  );
  assert.equal(c.listenerPath, "/run/agent.sock");
  assert.equal(c.listenerMetadata, "meta");
});

test("unknown syscall names are skipped with a warning naming them", () => {
  const c = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["nope_one", "read", "nope_two"], action: "SCMP_ACT_ERRNO" }],
  });
  assert.ok(c.warnings.some((w) => w.includes("nope_one") && w.includes("nope_two")));
});

test("the output is 8 bytes an instruction and decodes to the program", () => {
  const c = compileSeccomp(defaultProfile(), { arch: "x86_64" });
  assert.equal(c.filter.length, c.program.length * 8);
  assert.deepEqual(decodeProgram(c.filter, "le"), c.program);
  const be = compileSeccomp(defaultProfile(), { arch: "s390x" });
  assert.equal(be.endian, "be");
  assert.deepEqual(decodeProgram(be.filter, "be"), be.program);
});

test("every conditional jump fits its 8-bit offset, and large profiles stay under BPF_MAXINSNS", () => {
  const names = [...x86_64.syscalls.keys()];
  const spec: SeccompSpec = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: names.map((n, i) => ({
      names: [n],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: i % 6, op: "SCMP_CMP_NE", value: i }],
    })),
  };
  const c = compileSeccomp(spec, { arch: "x86_64", enosys: false });
  assert.ok(c.program.length <= BPF_MAXINSNS);
  for (const [i, n] of names.entries()) {
    const nr = x86_64.syscalls.get(n)!;
    const args = [0n, 0n, 0n, 0n, 0n, 0n];
    assert.equal(
      simulate(c.program, { nr, arch: x86_64.audit, args }, "le").value,
      i === 0 ? SECCOMP_RET.ERRNO | 1 : SECCOMP_RET.ALLOW,
      n,
    );
    args[i % 6] = BigInt(i);
    assert.equal(
      simulate(c.program, { nr, arch: x86_64.audit, args }, "le").value,
      SECCOMP_RET.ERRNO | 1,
      n,
    );
  }
});

test("the default profile follows capabilities the way Docker does", () => {
  const plain = defaultSeccomp({ capabilities: ["CAP_CHOWN"], arch: "x86_64", kernel: "6.1.0" });
  const admin = defaultSeccomp({
    capabilities: ["CAP_SYS_ADMIN"],
    arch: "x86_64",
    kernel: "6.1.0",
  });
  assert.equal(act(plain, "mount"), "ERRNO(1)");
  assert.equal(act(admin, "mount"), "ALLOW");
  assert.equal(act(plain, "clone3"), "ERRNO(38)");
  assert.equal(act(plain, "clone", [0x10000000n]), "ERRNO(1)");
  assert.equal(act(plain, "clone", [0x01200011n]), "ALLOW");
  assert.equal(act(admin, "clone", [0x10000000n]), "ALLOW");
  assert.equal(act(plain, "personality", [0xffffffffn]), "ALLOW");
  assert.equal(act(plain, "personality", [0x400000n]), "ERRNO(1)");
  assert.equal(act(plain, "socket", [40n]), "ERRNO(1)");
  assert.equal(act(plain, "socket", [2n]), "ALLOW");
  assert.deepEqual(plain.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
});
