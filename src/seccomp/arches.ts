/**
 * The ABIs hood can write filters for: their AUDIT_ARCH value (what `seccomp_data.arch`
 * holds), word size and byte order, and their syscall table (generated from libseccomp).
 */
import type { Endian } from "./bpf.ts";
import { generatedSyscallTables } from "./tables/syscalls.generated.ts";

export interface Arch {
  /** hood's short name, as libseccomp spells it: "x86_64", "x86", "aarch64". */
  name: string;
  /** The OCI name: "SCMP_ARCH_X86_64". */
  oci: string;
  /** AUDIT_ARCH_* value. x32 shares x86_64's and is told apart by the syscall number. */
  audit: number;
  /** Argument width libseccomp assumes: 32-bit ABIs compare only the low word. */
  bits: 32 | 64;
  endian: Endian;
  /** Names Go (GOARCH) and Node (process.arch) give the ABI, accepted by --arch. */
  aliases: string[];
  /** GOARCH, which Docker profiles' includes/excludes.arches compare with. */
  goarch: string;
  /** name -> number. */
  syscalls: ReadonlyMap<string, number>;
  /** socketcall(2) number when libseccomp multiplexes socket calls through it here. */
  socketcall?: number;
  /** ipc(2) number when libseccomp multiplexes SysV IPC calls through it here. */
  ipc?: number;
}

export const X32_SYSCALL_BIT = 0x40000000;

const AUDIT_64 = 0x80000000;
const AUDIT_LE = 0x40000000;
const AUDIT_MIPS_N32 = 0x20000000;

interface ArchShape {
  name: string;
  machine: number;
  bits: 32 | 64;
  endian: Endian;
  n32?: boolean;
  /** The kernel runs the ABI with 64-bit registers (x32 and n32 too): AUDIT_ARCH's 64-bit flag. */
  wide?: boolean;
  aliases: string[];
}

const shapes: ArchShape[] = [
  { name: "x86_64", machine: 62, bits: 64, endian: "le", aliases: ["amd64", "x64"] },
  { name: "x86", machine: 3, bits: 32, endian: "le", aliases: ["386", "ia32", "i386"] },
  { name: "x32", machine: 62, bits: 32, endian: "le", wide: true, aliases: [] },
  { name: "aarch64", machine: 183, bits: 64, endian: "le", aliases: ["arm64"] },
  { name: "arm", machine: 40, bits: 32, endian: "le", aliases: [] },
  { name: "riscv64", machine: 243, bits: 64, endian: "le", aliases: [] },
  { name: "s390x", machine: 22, bits: 64, endian: "be", aliases: [] },
  { name: "s390", machine: 22, bits: 32, endian: "be", aliases: [] },
  { name: "ppc64le", machine: 21, bits: 64, endian: "le", aliases: [] },
  { name: "ppc64", machine: 21, bits: 64, endian: "be", aliases: [] },
  { name: "ppc", machine: 20, bits: 32, endian: "be", aliases: [] },
  { name: "mips64", machine: 8, bits: 64, endian: "be", aliases: [] },
  { name: "mips64n32", machine: 8, bits: 32, endian: "be", n32: true, aliases: [] },
  { name: "mips", machine: 8, bits: 32, endian: "be", aliases: [] },
  { name: "mipsel64", machine: 8, bits: 64, endian: "le", aliases: ["mips64le"] },
  { name: "mipsel64n32", machine: 8, bits: 32, endian: "le", n32: true, aliases: [] },
  { name: "mipsel", machine: 8, bits: 32, endian: "le", aliases: ["mipsle"] },
];

function auditArch(s: ArchShape): number {
  // AUDIT_ARCH_* = EM_* | 64-bit flag | little-endian flag (| the MIPS n32 convention bit).
  let v = s.machine;
  if (s.bits === 64 || s.n32 || s.wide) v |= AUDIT_64;
  if (s.endian === "le") v |= AUDIT_LE;
  if (s.n32) v |= AUDIT_MIPS_N32;
  return v >>> 0;
}

function build(shape: ArchShape): Arch {
  const table = generatedSyscallTables[shape.name];
  if (!table) throw new Error(`no generated syscall table for ${shape.name}`);
  const syscalls = new Map(Object.entries(table.syscalls));
  const arch: Arch = {
    name: shape.name,
    oci: `SCMP_ARCH_${shape.name.toUpperCase()}`,
    audit: auditArch(shape),
    bits: shape.bits,
    endian: shape.endian,
    aliases: shape.aliases,
    goarch: shape.aliases[0] ?? shape.name,
    syscalls,
  };
  if (table.socketcall) arch.socketcall = syscalls.get("socketcall");
  if (table.ipc) arch.ipc = syscalls.get("ipc");
  return arch;
}

export const ARCHES: readonly Arch[] = shapes.map(build);

const byAnyName = new Map<string, Arch>();
for (const a of ARCHES) {
  for (const n of [a.name, a.oci, ...a.aliases]) byAnyName.set(n.toLowerCase(), a);
}

/** Looks an ABI up by OCI name, libseccomp name, GOARCH or Node's process.arch. */
export function findArch(name: string): Arch | undefined {
  return byAnyName.get(name.toLowerCase());
}

/** OCI names that are valid but have no table here (their calls get the bad-arch action). */
export const KNOWN_WITHOUT_TABLE = new Set([
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV32",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
]);

/** The ABI this Node runs on. */
export function nativeArch(): Arch {
  const arch = process.arch === "ppc64" && hostIsLittleEndian() ? "ppc64le" : process.arch;
  const found = findArch(arch);
  if (!found) throw new Error(`hood has no seccomp syscall table for this machine (${arch})`);
  return found;
}

function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/** socketcall(2) sub-call numbers (linux/net.h), used where libseccomp multiplexes. */
export const SOCKETCALL_SUBCALLS: Record<string, number> = {
  socket: 1,
  bind: 2,
  connect: 3,
  listen: 4,
  accept: 5,
  getsockname: 6,
  getpeername: 7,
  socketpair: 8,
  send: 9,
  recv: 10,
  sendto: 11,
  recvfrom: 12,
  shutdown: 13,
  setsockopt: 14,
  getsockopt: 15,
  sendmsg: 16,
  recvmsg: 17,
  accept4: 18,
  recvmmsg: 19,
  sendmmsg: 20,
};

/** ipc(2) sub-call numbers (linux/ipc.h). */
export const IPC_SUBCALLS: Record<string, number> = {
  semop: 1,
  semget: 2,
  semctl: 3,
  semtimedop: 4,
  msgsnd: 11,
  msgrcv: 12,
  msgget: 13,
  msgctl: 14,
  shmat: 21,
  shmdt: 22,
  shmget: 23,
  shmctl: 24,
};

const allNames = new Set<string>([
  ...Object.keys(SOCKETCALL_SUBCALLS),
  ...Object.keys(IPC_SUBCALLS),
]);
for (const a of ARCHES) for (const n of a.syscalls.keys()) allNames.add(n);

/** True when some ABI (or a multiplexed sub-call) has a syscall of this name. */
export function isKnownSyscall(name: string): boolean {
  return allNames.has(name);
}

/** Every syscall number in the ABI's table, ascending. */
export function tableNumbers(arch: Arch): number[] {
  return [...new Set(arch.syscalls.values())].sort((a, b) => a - b);
}
