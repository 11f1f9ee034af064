/**
 * A classic-BPF interpreter for seccomp programs: runs a filter on one `seccomp_data` and
 * says what it returns and how many instructions it executed. It accepts every instruction
 * the kernel's seccomp checker accepts, so it can run filters dumped from any process.
 */
import { BPF, type Endian, type Insn, SECCOMP_DATA, wordOffset } from "./bpf.ts";

export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: readonly bigint[];
}

export interface SimResult {
  /** The filter's return value (SECCOMP_RET_*). */
  value: number;
  /** Instructions executed, the `ret` included. */
  steps: number;
}

export class BpfError extends Error {}

function load(data: SeccompData, off: number, endian: Endian): number {
  if (off === SECCOMP_DATA.NR) return data.nr >>> 0;
  if (off === SECCOMP_DATA.ARCH) return data.arch >>> 0;
  const field = off < SECCOMP_DATA.ARGS ? SECCOMP_DATA.IP : off - ((off - SECCOMP_DATA.ARGS) % 8);
  const value =
    field === SECCOMP_DATA.IP
      ? (data.instructionPointer ?? 0n)
      : (data.args?.[(field - SECCOMP_DATA.ARGS) / 8] ?? 0n);
  const v = BigInt.asUintN(64, value);
  return off === wordOffset(field, "hi", endian) ? Number(v >> 32n) : Number(v & 0xffffffffn);
}

/** Runs the program; throws BpfError on what the kernel would have refused to load. */
export function simulate(
  prog: readonly Insn[],
  data: SeccompData,
  endian: Endian,
  trace?: number[],
): SimResult {
  let a = 0;
  let x = 0;
  const mem = new Uint32Array(16);
  let pc = 0;
  let steps = 0;
  while (pc < prog.length) {
    const insn = prog[pc]!;
    steps++;
    trace?.push(pc);
    const { code, k } = insn;
    const cls = code & 0x07;
    switch (cls) {
      case BPF.LD:
      case BPF.LDX: {
        const mode = code & 0xe0;
        let v: number;
        if (mode === BPF.ABS && (code & 0x18) === BPF.W && cls === BPF.LD) {
          if (k % 4 !== 0 || k >= SECCOMP_DATA.SIZE) {
            throw new BpfError(`instruction ${pc}: load of seccomp_data at ${k} is out of bounds`);
          }
          v = load(data, k, endian);
        } else if (mode === BPF.IMM) v = k >>> 0;
        else if (mode === BPF.MEM) {
          if (k > 15) throw new BpfError(`instruction ${pc}: scratch slot ${k} does not exist`);
          v = mem[k]!;
        } else if (mode === BPF.LEN) v = SECCOMP_DATA.SIZE;
        else
          throw new BpfError(
            `instruction ${pc}: opcode 0x${code.toString(16)} is not allowed in seccomp`,
          );
        if (cls === BPF.LD) a = v;
        else x = v;
        pc++;
        break;
      }
      case BPF.ST:
      case BPF.STX:
        if (k > 15) throw new BpfError(`instruction ${pc}: scratch slot ${k} does not exist`);
        mem[k] = cls === BPF.ST ? a : x;
        pc++;
        break;
      case BPF.ALU: {
        const src = code & BPF.X ? x : k >>> 0;
        switch (code & 0xf0) {
          case BPF.ADD:
            a = (a + src) >>> 0;
            break;
          case BPF.SUB:
            a = (a - src) >>> 0;
            break;
          case BPF.MUL:
            a = Math.imul(a, src) >>> 0;
            break;
          case BPF.DIV:
            if (src === 0) return { value: 0, steps };
            a = Math.floor(a / src) >>> 0;
            break;
          case BPF.MOD:
            if (src === 0) return { value: 0, steps };
            a = (a % src) >>> 0;
            break;
          case BPF.OR:
            a = (a | src) >>> 0;
            break;
          case BPF.AND:
            a = (a & src) >>> 0;
            break;
          case BPF.XOR:
            a = (a ^ src) >>> 0;
            break;
          case BPF.LSH:
            a = src >= 32 ? 0 : (a << src) >>> 0;
            break;
          case BPF.RSH:
            a = src >= 32 ? 0 : a >>> src;
            break;
          case BPF.NEG:
            a = -a >>> 0;
            break;
          default:
            throw new BpfError(`instruction ${pc}: unknown ALU opcode 0x${code.toString(16)}`);
        }
        pc++;
        break;
      }
      case BPF.JMP: {
        const op = code & 0xf0;
        if (op === BPF.JA) {
          pc += 1 + (k >>> 0);
          break;
        }
        const src = code & BPF.X ? x : k >>> 0;
        let taken: boolean;
        if (op === BPF.JEQ) taken = a === src;
        else if (op === BPF.JGT) taken = a > src;
        else if (op === BPF.JGE) taken = a >= src;
        else if (op === BPF.JSET) taken = (a & src) !== 0;
        else throw new BpfError(`instruction ${pc}: unknown jump opcode 0x${code.toString(16)}`);
        pc += 1 + (taken ? insn.jt : insn.jf);
        break;
      }
      case BPF.RET:
        return { value: ((code & 0x18) === BPF.A ? a : k) >>> 0, steps };
      case BPF.MISC:
        if ((code & 0xf8) === BPF.TXA) a = x;
        else x = a;
        pc++;
        break;
    }
  }
  throw new BpfError(`the program runs past its end (${prog.length} instructions)`);
}
