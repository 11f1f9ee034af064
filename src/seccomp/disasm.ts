/**
 * Readable listings of seccomp BPF, in the spirit of seccomp-tools: one line per instruction
 * with its index, the raw fields and a symbolic form that names seccomp_data fields, the
 * audit architectures and syscalls (when the arch of that path is known) and the actions.
 */
import { describeAction } from "./actions.ts";
import { ARCHES, X32_SYSCALL_BIT } from "./arches.ts";
import { BPF, type Endian, type Insn, SECCOMP_DATA, wordOffset } from "./bpf.ts";

const auditNames = new Map<number, string>();
for (const a of ARCHES) if (!auditNames.has(a.audit)) auditNames.set(a.audit, a.name);

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function fieldName(off: number, endian: Endian): string {
  if (off === SECCOMP_DATA.NR) return "nr";
  if (off === SECCOMP_DATA.ARCH) return "arch";
  if (off >= SECCOMP_DATA.SIZE || off % 4 !== 0) return `[${off}]`;
  const field = off < SECCOMP_DATA.ARGS ? SECCOMP_DATA.IP : off - ((off - SECCOMP_DATA.ARGS) % 8);
  const half = off === wordOffset(field, "hi", endian) ? "hi" : "lo";
  const name = field === SECCOMP_DATA.IP ? "ip" : `args[${(field - SECCOMP_DATA.ARGS) / 8}]`;
  return `${name}.${half}`;
}

const aluOps: Record<number, string> = {
  [BPF.ADD]: "+=",
  [BPF.SUB]: "-=",
  [BPF.MUL]: "*=",
  [BPF.DIV]: "/=",
  [BPF.OR]: "|=",
  [BPF.AND]: "&=",
  [BPF.LSH]: "<<=",
  [BPF.RSH]: ">>=",
  [BPF.MOD]: "%=",
  [BPF.XOR]: "^=",
};

const jmpOps: Record<number, string> = {
  [BPF.JEQ]: "==",
  [BPF.JGT]: ">",
  [BPF.JGE]: ">=",
  [BPF.JSET]: "&",
};

/** A name for the syscall number `k` under the ABIs `audit` can mean. */
function syscallName(k: number, audit: number | undefined): string | undefined {
  if (audit === undefined) return undefined;
  for (const a of ARCHES) {
    if (a.audit !== audit) continue;
    const isX32 = a.name === "x32";
    if (a.audit === ARCHES[0]!.audit && isX32 !== (k >= X32_SYSCALL_BIT && k !== 0xffffffff))
      continue;
    for (const [name, nr] of a.syscalls) if (nr === k) return name;
  }
  return undefined;
}

/**
 * Tracks what the accumulator holds on each path (which field, and the arch once tested) so
 * constants can be named; a join of paths that disagree forgets it.
 */
interface State {
  field?: string;
  audit?: number;
}

function describe(insn: Insn, i: number, st: State, endian: Endian): string {
  const { code, k, jt, jf } = insn;
  const cls = code & 0x07;
  switch (cls) {
    case BPF.LD:
    case BPF.LDX: {
      const reg = cls === BPF.LD ? "A" : "X";
      const mode = code & 0xe0;
      if (mode === BPF.ABS) return `${reg} = ${fieldName(k, endian)}`;
      if (mode === BPF.IMM) return `${reg} = ${hex(k)}`;
      if (mode === BPF.MEM) return `${reg} = mem[${k}]`;
      if (mode === BPF.LEN) return `${reg} = sizeof(seccomp_data)`;
      return `${reg} = ? (opcode ${hex(code)})`;
    }
    case BPF.ST:
      return `mem[${k}] = A`;
    case BPF.STX:
      return `mem[${k}] = X`;
    case BPF.ALU: {
      if ((code & 0xf0) === BPF.NEG) return "A = -A";
      const op = aluOps[code & 0xf0] ?? "?=";
      return `A ${op} ${code & BPF.X ? "X" : hex(k)}`;
    }
    case BPF.JMP: {
      const op = code & 0xf0;
      if (op === BPF.JA) return `goto ${i + 1 + k}`;
      const rhs = code & BPF.X ? "X" : constantName(k, st);
      const t = i + 1 + jt;
      const f = i + 1 + jf;
      const sym = jmpOps[op] ?? "?";
      const test = op === BPF.JSET ? `A & ${rhs}` : `A ${sym} ${rhs}`;
      if (jf === 0) return `if (${test}) goto ${t}`;
      if (jt === 0) return `if (!(${test})) goto ${f}`;
      return `if (${test}) goto ${t} else goto ${f}`;
    }
    case BPF.RET:
      return (code & 0x18) === BPF.A ? "return A" : `return ${describeAction(k)}`;
    case BPF.MISC:
      return (code & 0xf8) === BPF.TXA ? "A = X" : "X = A";
  }
  return "?";
}

function constantName(k: number, st: State): string {
  if (st.field === "arch") {
    const name = auditNames.get(k >>> 0);
    return name ? `AUDIT_ARCH_${name.toUpperCase()}` : hex(k);
  }
  if (st.field === "nr") {
    const name = syscallName(k >>> 0, st.audit);
    return name ? `${hex(k)} /* ${name} */` : hex(k);
  }
  return hex(k);
}

/** Per instruction, what the accumulator holds when it runs (undefined fields: unknown). */
function states(prog: readonly Insn[], endian: Endian): State[] {
  const at: Array<State | undefined> = new Array(prog.length);
  at[0] = {};
  const merge = (j: number, s: State) => {
    if (j >= prog.length) return;
    const cur = at[j];
    if (!cur) at[j] = { ...s };
    else {
      if (cur.field !== s.field) cur.field = undefined;
      if (cur.audit !== s.audit) cur.audit = undefined;
    }
  };
  for (let i = 0; i < prog.length; i++) {
    const s = at[i];
    if (!s) continue;
    const { code, k, jt, jf } = prog[i]!;
    const cls = code & 0x07;
    if (cls === BPF.RET) continue;
    if (cls === BPF.LD) {
      const mode = code & 0xe0;
      merge(i + 1, { audit: s.audit, field: mode === BPF.ABS ? fieldName(k, endian) : undefined });
    } else if (cls === BPF.ALU || (cls === BPF.MISC && (code & 0xf8) === BPF.TXA)) {
      merge(i + 1, { audit: s.audit });
    } else if (cls === BPF.JMP) {
      const op = code & 0xf0;
      if (op === BPF.JA) merge(i + 1 + k, s);
      else {
        const archKnown = op === BPF.JEQ && s.field === "arch" && !(code & BPF.X);
        merge(i + 1 + jt, archKnown ? { ...s, audit: k >>> 0 } : s);
        merge(i + 1 + jf, s);
      }
    } else merge(i + 1, s);
  }
  return Array.from(at, (s) => s ?? {});
}

/** The listing: ` 0012: 0x15 0x00 0x05 0x0000003b  if (A == 0x3b /* execve *\/) goto 18`. */
export function disassemble(prog: readonly Insn[], endian: Endian): string {
  const st = states(prog, endian);
  const lines = [" line  code jt   jf   k"];
  prog.forEach((insn, i) => {
    const raw = `${hex(insn.code).padStart(6)} ${String(insn.jt).padStart(3)}  ${String(insn.jf).padStart(3)}  ${hex(insn.k).padEnd(10)}`;
    lines.push(` ${String(i).padStart(4, "0")} ${raw}  ${describe(insn, i, st[i]!, endian)}`);
  });
  return `${lines.join("\n")}\n`;
}

/** The program as a C array of `struct sock_filter`, for pasting into a test. */
export function formatC(prog: readonly Insn[], name = "filter"): string {
  const body = prog
    .map(
      (p) =>
        `  { 0x${p.code.toString(16).padStart(2, "0")}, ${p.jt}, ${p.jf}, 0x${(p.k >>> 0).toString(16).padStart(8, "0")} },`,
    )
    .join("\n");
  return `/* ${prog.length} instructions */\nstatic struct sock_filter ${name}[] = {\n${body}\n};\n`;
}
