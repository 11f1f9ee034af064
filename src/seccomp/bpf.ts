/**
 * Classic BPF as seccomp uses it: the instruction format, the opcodes the kernel's seccomp
 * checker accepts, and the layout of `struct seccomp_data` the program reads.
 */

/** One `struct sock_filter`: 8 bytes, {u16 code, u8 jt, u8 jf, u32 k}. */
export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The kernel refuses longer programs (include/uapi/linux/filter.h). */
export const BPF_MAXINSNS = 4096;

export const BPF = {
  // classes
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  MISC: 0x07,
  // ld/ldx sizes and modes
  W: 0x00,
  H: 0x08,
  B: 0x10,
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  LEN: 0x80,
  MSH: 0xa0,
  // alu ops
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  // jmp ops
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  // sources
  K: 0x00,
  X: 0x08,
  A: 0x10,
  // misc
  TAX: 0x00,
  TXA: 0x80,
} as const;

export const OP = {
  LD_ABS: BPF.LD | BPF.W | BPF.ABS,
  ALU_AND_K: BPF.ALU | BPF.AND | BPF.K,
  JA: BPF.JMP | BPF.JA,
  JEQ_K: BPF.JMP | BPF.JEQ | BPF.K,
  JGT_K: BPF.JMP | BPF.JGT | BPF.K,
  JGE_K: BPF.JMP | BPF.JGE | BPF.K,
  JSET_K: BPF.JMP | BPF.JSET | BPF.K,
  RET_K: BPF.RET | BPF.K,
} as const;

/** Offsets in `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`. */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  IP: 8,
  ARGS: 16,
  SIZE: 64,
} as const;

export type Endian = "le" | "be";

/** The offset of the high or low 32-bit word of a 64-bit field, in the given byte order. */
export function wordOffset(fieldOffset: number, half: "hi" | "lo", endian: Endian): number {
  const first = endian === "le" ? "lo" : "hi";
  return fieldOffset + (half === first ? 0 : 4);
}

export function argOffset(index: number, half: "hi" | "lo", endian: Endian): number {
  return wordOffset(SECCOMP_DATA.ARGS + 8 * index, half, endian);
}

export const hostEndian: Endian =
  new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "le" : "be";

/** The program as the kernel takes it (`sock_fprog.filter`), in the given byte order. */
export function encodeProgram(insns: readonly Insn[], endian: Endian = hostEndian): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    const o = i * 8;
    if (endian === "le") {
      buf.writeUInt16LE(insn.code, o);
      buf.writeUInt32LE(insn.k >>> 0, o + 4);
    } else {
      buf.writeUInt16BE(insn.code, o);
      buf.writeUInt32BE(insn.k >>> 0, o + 4);
    }
    buf.writeUInt8(insn.jt, o + 2);
    buf.writeUInt8(insn.jf, o + 3);
  });
  return buf;
}

/** Reads `sock_filter` records; the length must be a multiple of 8. */
export function decodeProgram(buf: Uint8Array, endian: Endian = hostEndian): Insn[] {
  if (buf.length % 8 !== 0) {
    throw new RangeError(`a BPF program is a multiple of 8 bytes, got ${buf.length}`);
  }
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const out: Insn[] = [];
  for (let o = 0; o < b.length; o += 8) {
    out.push({
      code: endian === "le" ? b.readUInt16LE(o) : b.readUInt16BE(o),
      jt: b.readUInt8(o + 2),
      jf: b.readUInt8(o + 3),
      k: endian === "le" ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4),
    });
  }
  return out;
}
