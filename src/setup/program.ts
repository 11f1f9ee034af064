/**
 * The setup program: the flat list of steps that the C executor walks between clone3 and
 * execve. TypeScript decides every step and its arguments; the executor only makes the
 * syscalls. The binary encoding here and `native/executor/program.h` must agree; the
 * layout is documented in docs/ARCHITECTURE.md ("The setup program").
 */

/** Field kinds: i = int64, s = byte string, l = list of byte strings, I = list of int64. */
type FieldKind = "i" | "s" | "l" | "I";

/** Opcode numbers and argument signatures, in the order the C switch lists them. */
export const OPS = {
  setns: { code: 0, args: ["fd:i", "nstype:i"] },
  unshare: { code: 1, args: ["flags:i"] },
  sync: { code: 2, args: ["tag:i"] },
  report: { code: 3, args: ["tag:i"] },
  fork: { code: 4, args: ["flags:i"] },
  sethostname: { code: 5, args: ["name:s"] },
  setdomainname: { code: 6, args: ["name:s"] },
  "open-root": { code: 7, args: ["path:s"] },
  "mkdir-in-root": { code: 8, args: ["path:s", "mode:i"] },
  "mkfile-in-root": { code: 9, args: ["path:s", "mode:i"] },
  mount: { code: 10, args: ["source:s", "target:s", "fstype:s", "flags:i", "data:s", "how:i"] },
  "mknod-in-root": { code: 11, args: ["path:s", "mode:i", "dev:i", "uid:i", "gid:i"] },
  "symlink-in-root": { code: 12, args: ["target:s", "path:s"] },
  "pivot-root": { code: 13, args: [] },
  "move-root": { code: 14, args: [] },
  "mask-path": { code: 15, args: ["path:s"] },
  "readonly-path": { code: 16, args: ["path:s"] },
  "write-file": { code: 17, args: ["path:s", "data:s", "inRoot:i"] },
  setrlimit: { code: 18, args: ["resource:i", "soft:i", "hard:i"] },
  setgroups: { code: 19, args: ["gids:I"] },
  setresgid: { code: 20, args: ["gid:i"] },
  setresuid: { code: 21, args: ["uid:i"] },
  prctl: { code: 22, args: ["option:i", "arg2:i", "arg3:i", "arg4:i", "arg5:i"] },
  capset: { code: 23, args: ["effective:i", "permitted:i", "inheritable:i"] },
  umask: { code: 24, args: ["mask:i"] },
  chdir: { code: 25, args: ["path:s"] },
  seccomp: { code: 26, args: ["flags:i", "filter:s", "tag:i"] },
  console: { code: 27, args: ["socket:i", "rows:i", "cols:i"] },
  "close-fds": { code: 28, args: ["first:i", "keep:I"] },
  "wait-for-start": { code: 29, args: ["fifo:i"] },
  "find-exec": { code: 30, args: ["candidates:l"] },
  exec: { code: 31, args: ["candidates:l", "argv:l", "envp:l"] },
  "close-fd": { code: 32, args: ["fd:i"] },
  "privatize-mount": { code: 33, args: ["path:s"] },
  "mount-setattr": {
    code: 34,
    args: ["path:s", "flags:i", "set:i", "clear:i", "propagation:i"],
  },
  "idmap-tree": {
    code: 35,
    args: ["source:s", "openFlags:i", "attrFlags:i", "uidMap:s", "gidMap:s", "slot:i"],
  },
  "move-mount": { code: 36, args: ["slot:i", "target:s", "how:i"] },
  "write-procfs": { code: 37, args: ["path:s", "data:s"] },
  "write-fd": { code: 38, args: ["fd:i", "data:s"] },
} as const satisfies Record<string, { code: number; args: readonly string[] }>;

export type OpName = keyof typeof OPS;

type KindValue<K> = K extends "i"
  ? number | bigint
  : K extends "s"
    ? string | Uint8Array
    : K extends "l"
      ? readonly (string | Uint8Array)[]
      : K extends "I"
        ? readonly (number | bigint)[]
        : never;

type ArgsOf<A extends readonly string[]> = {
  [E in A[number] as E extends `${infer N}:${string}` ? N : never]: E extends `${string}:${infer K}`
    ? KindValue<K>
    : never;
};

/** One step: its op name, its arguments, and what TypeScript needs to explain a failure. */
export type Step = {
  [O in OpName]: { op: O; args: ArgsOf<(typeof OPS)[O]["args"]>; what?: string };
}[OpName];

export type StepArgs<O extends OpName> = Extract<Step, { op: O }>["args"];

/** Builds a step with type-checked arguments. `what` names the step in error messages. */
export function step<O extends OpName>(op: O, args: StepArgs<O>, what?: string): Step {
  return { op, args, what } as Step;
}

/** Mount step `how` bits: how the executor resolves the mount's paths. */
export const MOUNT_HOW = {
  /** Resolve the target inside the root (openat2 RESOLVE_IN_ROOT); otherwise use it as given. */
  TARGET_IN_ROOT: 1,
  /** Resolve the source inside the root too (binds of a path within the container). */
  SOURCE_IN_ROOT: 2,
  /** Pass NULL as the source (propagation changes and remounts). */
  SOURCE_NULL: 4,
  /** Create the target (a directory, or a file when the source is not a directory). */
  CREATE_TARGET: 8,
} as const;

/** Messages from the executor to the parent: a 24-byte record. */
export const MSG = { SYNC: 2, REPORT: 3, FORKED: 4, ERROR: 5, FD: 6 } as const;
/** Replies from the parent to the executor (one 4-byte word). */
export const REPLY = { GO: 1, ABORT: 2 } as const;
/** The first byte the parent writes to the waiting clone3 child. */
export const START = { GO: 0x67, BECOME_ROOT: 0x72 } as const;

export const PROGRAM_MAGIC = 0x444f4f48; // "HOOD"
export const PROGRAM_VERSION = 1;
export const MESSAGE_SIZE = 24;

const utf8 = new TextEncoder();

/**
 * Appends to one growing buffer: a program is thousands of small fields. It runs once per
 * container, cold, in V8's interpreter, so it writes through a DataView (one builtin per field)
 * rather than Buffer's methods (several JavaScript calls each, for their checks): 0.4 ms per
 * program rather than 2.5.
 */
class Writer {
  private buf = new Uint8Array(4096);
  private view = new DataView(this.buf.buffer);
  private size = 0;

  private room(n: number): void {
    if (this.size + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.size + n));
    bigger.set(this.buf.subarray(0, this.size));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.size, v >>> 0, true);
    this.size += 4;
  }

  i64(v: number | bigint): void {
    this.room(8);
    if (typeof v === "number" && Number.isSafeInteger(v)) {
      this.view.setUint32(this.size, v >>> 0, true);
      this.view.setInt32(this.size + 4, Math.floor(v / 0x1_0000_0000), true);
    } else {
      this.view.setBigInt64(this.size, BigInt.asIntN(64, BigInt(v)), true);
    }
    this.size += 8;
  }

  bytes(v: string | Uint8Array): void {
    let length: number;
    if (typeof v === "string") {
      if (v.includes("\0")) {
        throw new TypeError(
          `Cannot encode setup program: string contains NUL: ${JSON.stringify(v)}`,
        );
      }
      this.room(4 + v.length * 3 + 8);
      length = utf8.encodeInto(v, this.buf.subarray(this.size + 4)).written;
    } else {
      length = v.length;
      this.room(4 + length + 8);
      this.buf.set(v, this.size + 4);
    }
    this.view.setUint32(this.size, length, true);
    // One NUL always follows, then padding to 8 bytes, so C can use the bytes as a C string.
    // The buffer past `size` is still zero: it only grows, and each new one starts zeroed.
    this.size += 4 + length + 8 - ((length + 1) % 8 || 8) + 1;
  }

  /** Reserves a u32 to be filled in later; returns its offset. */
  placeholder(): number {
    this.u32(0);
    return this.size - 4;
  }

  patch(offset: number, v: number): void {
    this.view.setUint32(offset, v >>> 0, true);
  }

  get length(): number {
    return this.size;
  }

  take(): Buffer {
    return Buffer.from(this.buf.buffer, 0, this.size);
  }
}

function encodeField(
  w: Writer,
  kind: FieldKind,
  value: unknown,
  index: number,
  op: OpName,
  name: string,
): void {
  switch (kind) {
    case "i":
      if (typeof value !== "number" && typeof value !== "bigint") {
        throw new TypeError(
          `Cannot encode setup program: step ${index} (${op}).${name} must be an integer`,
        );
      }
      w.i64(value);
      return;
    case "s":
      w.bytes(value as string | Uint8Array);
      return;
    case "l": {
      const list = value as readonly (string | Uint8Array)[];
      w.u32(list.length);
      for (const item of list) w.bytes(item);
      return;
    }
    case "I": {
      const list = value as readonly (number | bigint)[];
      w.u32(list.length);
      for (const item of list) w.i64(item);
      return;
    }
  }
}

/**
 * Encodes steps into the executor's wire format:
 * header { u32 magic, u32 version, u32 count, u32 0 } then per step
 * { u32 op, u32 payload length, payload } where the payload holds the fields in signature
 * order: int64 LE; strings as u32 length + bytes + NUL, padded to 8; lists as u32 count + items.
 */
export function encodeProgram(steps: readonly Step[]): Buffer {
  const out = new Writer();
  out.u32(PROGRAM_MAGIC);
  out.u32(PROGRAM_VERSION);
  out.u32(steps.length);
  out.u32(0);
  steps.forEach((s, index) => {
    const spec = OPS[s.op];
    out.u32(spec.code);
    const lengthAt = out.placeholder();
    const payloadStart = out.length;
    for (const [name, kind] of fieldsOf(s.op)) {
      const value = (s.args as Record<string, unknown>)[name];
      encodeField(out, kind, value, index, s.op, name);
    }
    out.patch(lengthAt, out.length - payloadStart);
  });
  return out.take();
}

const FIELDS = new Map<OpName, [string, FieldKind][]>();

/** An op's fields as [name, kind] pairs, split once per process. */
function fieldsOf(op: OpName): [string, FieldKind][] {
  let f = FIELDS.get(op);
  if (!f) {
    f = OPS[op].args.map((a) => a.split(":") as [string, FieldKind]);
    FIELDS.set(op, f);
  }
  return f;
}

/** A message from the executor, decoded. */
export interface ExecutorMessage {
  type: number;
  step: number;
  errno: number;
  value: bigint;
}

export function decodeMessage(b: Buffer): ExecutorMessage {
  if (b.length < MESSAGE_SIZE) {
    throw new RangeError(`Cannot decode executor message: ${b.length} bytes, want ${MESSAGE_SIZE}`);
  }
  return {
    type: b.readUInt32LE(0),
    step: b.readInt32LE(4),
    errno: b.readInt32LE(8),
    value: b.readBigInt64LE(16),
  };
}

export function encodeReply(type: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(type);
  return b;
}
