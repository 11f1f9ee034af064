import assert from "node:assert/strict";
import { test } from "node:test";
import { BPF, decodeProgram, encodeProgram, type Insn, OP } from "../../../src/seccomp/bpf.ts";
import { disassemble, formatC } from "../../../src/seccomp/disasm.ts";
import { compileSeccomp } from "../../../src/seccomp/index.ts";
import { BpfError, simulate } from "../../../src/seccomp/simulate.ts";

const ins = (code: number, k = 0, jt = 0, jf = 0): Insn => ({ code, jt, jf, k });

test("the simulator runs ALU, scratch memory, X and jumps like the kernel", () => {
  const prog = [
    ins(OP.LD_ABS, 16), // A = args[0].lo
    ins(BPF.ALU | BPF.ADD | BPF.K, 5),
    ins(BPF.ST, 3), // mem[3] = A
    ins(BPF.LDX | BPF.IMM, 2),
    ins(BPF.ALU | BPF.MUL | BPF.X),
    ins(BPF.MISC | BPF.TAX),
    ins(BPF.LD | BPF.MEM, 3),
    ins(BPF.JMP | BPF.JGT | BPF.X, 0, 1, 0), // mem[3] > X ?
    ins(OP.RET_K, 1),
    ins(BPF.RET | BPF.A),
  ];
  const r = simulate(prog, { nr: 0, arch: 0, args: [10n] }, "le");
  assert.equal(r.value, 1); // mem[3] = 15 is not above X = 30
  assert.equal(r.steps, 9);
  const r2 = simulate(prog, { nr: 0, arch: 0, args: [0xfffffff0n] }, "le");
  assert.equal(r2.value, 0xfffffff5); // 32-bit wrap: X = 0xffffffea, A = 0xfffffff5 > X, return A
  assert.equal(r2.steps, 9);
  assert.equal(
    simulate([ins(BPF.ALU | BPF.DIV | BPF.K, 0), ins(OP.RET_K, 7)], { nr: 0, arch: 0 }, "le").value,
    0,
  );
  assert.throws(
    () => simulate([ins(OP.LD_ABS, 64), ins(OP.RET_K, 0)], { nr: 0, arch: 0 }, "le"),
    BpfError,
  );
  assert.throws(() => simulate([ins(OP.LD_ABS, 0)], { nr: 0, arch: 0 }, "le"), BpfError);
});

test("argument words follow the byte order", () => {
  const hi = [ins(OP.LD_ABS, 16), ins(BPF.RET | BPF.A)];
  assert.equal(simulate(hi, { nr: 0, arch: 0, args: [0x1_0000_0002n] }, "le").value, 2);
  assert.equal(simulate(hi, { nr: 0, arch: 0, args: [0x1_0000_0002n] }, "be").value, 1);
});

test("the disassembler names fields, arches, syscalls and actions", () => {
  const c = compileSeccomp(
    {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        {
          names: ["execve"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 1, value: 5, op: "SCMP_CMP_EQ" }],
        },
      ],
    },
    { arch: "x86_64", enosys: false },
  );
  const text = disassemble(c.program, "le");
  assert.match(text, /A = arch/);
  assert.match(text, /AUDIT_ARCH_X86_64/);
  assert.match(text, /execve/);
  assert.match(text, /A = args\[1\]\.hi/);
  assert.match(text, /return ALLOW/);
  assert.match(text, /return ERRNO\(1\)/);
  assert.equal(text.trim().split("\n").length, c.program.length + 1);
  assert.match(formatC(c.program), new RegExp(`/\\* ${c.program.length} instructions \\*/`));
});

test("encode and decode are inverse in both byte orders", () => {
  const prog = [ins(OP.JEQ_K, 0xdeadbeef, 3, 200), ins(OP.RET_K, 0x7fff0000)];
  for (const e of ["le", "be"] as const)
    assert.deepEqual(decodeProgram(encodeProgram(prog, e), e), prog);
  assert.throws(() => decodeProgram(new Uint8Array(7)), RangeError);
});
