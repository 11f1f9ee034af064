/**
 * Device cgroup rules: an emulator of the v1 devices controller (what a list of allow/deny
 * rules amounts to), the v1 writes that move a cgroup from its current rules to the wanted
 * ones without a moment of "deny everything" for a running container, and the eBPF
 * `BPF_PROG_TYPE_CGROUP_DEVICE` program that enforces the same rules on cgroup v2 (runc's
 * devicefilter, generated here in TypeScript).
 */
import { HoodError } from "../errors.ts";
import type { LinuxDeviceCgroup } from "../oci/runtime-spec.ts";

export type DeviceType = "a" | "b" | "c";

/** One rule as the kernel speaks it; -1 is the "*" wildcard. Access is a subset of "rwm". */
export interface DeviceRule {
  allow: boolean;
  type: DeviceType;
  major: number;
  minor: number;
  access: string;
}

const ACCESS_ORDER = "rwm";

function normAccess(a: string): string {
  return [...ACCESS_ORDER].filter((c) => a.includes(c)).join("");
}

function minus(a: string, b: string): string {
  return [...a].filter((c) => !b.includes(c)).join("");
}

function num(n: number): string {
  return n < 0 ? "*" : String(n);
}

/** "c 1:3 rwm", the syntax of devices.allow, devices.deny and devices.list. */
export function ruleText(r: Pick<DeviceRule, "type" | "major" | "minor" | "access">): string {
  return `${r.type} ${num(r.major)}:${num(r.minor)} ${r.access}`;
}

export function fromSpec(d: LinuxDeviceCgroup): DeviceRule {
  const type = !d.type ? "a" : d.type;
  return {
    allow: d.allow,
    type,
    major: d.major ?? -1,
    minor: d.minor ?? -1,
    access: normAccess(d.access ?? ACCESS_ORDER),
  };
}

type Key = string;

function keyOf(type: DeviceType, major: number, minor: number): Key {
  return `${type} ${major} ${minor}`;
}

function parseKey(k: Key): { type: DeviceType; major: number; minor: number } {
  const [t, ma, mi] = k.split(" ");
  return { type: t as DeviceType, major: Number(ma), minor: Number(mi) };
}

/** Sorted as runc sorts (type, then major, then minor; "*" first) so writes are reproducible. */
function sortedKeys(m: Map<Key, string>): Key[] {
  return [...m.keys()].sort((a, b) => {
    const x = parseKey(a);
    const y = parseKey(b);
    if (x.type !== y.type) return x.type < y.type ? -1 : 1;
    if (x.major !== y.major) return x.major - y.major;
    return x.minor - y.minor;
  });
}

/**
 * The state of a v1 devices cgroup: a default (allow or deny everything) and exceptions to it.
 * A fresh emulator denies everything, so a rule list without an "a" rule is an allow-list, as in
 * runc.
 */
export class DeviceEmulator {
  defaultAllow = false;
  /** Exceptions to the default: key -> access. */
  readonly exceptions = new Map<Key, string>();

  /**
   * The state a config's rule list amounts to. Unlike a single write, a config rule that would
   * narrow a wider exception is refused: the kernel only edits the exception with exactly that
   * type and numbers, so "allow c *:* rwm, deny c 1:3 w" would leave 1:3 writable while the
   * config says otherwise. runc refuses it too.
   */
  static fromRules(rules: readonly DeviceRule[]): DeviceEmulator {
    const e = new DeviceEmulator();
    for (const r of rules) {
      if (r.type !== "a" && r.allow === e.defaultAllow) e.refuseHole(r);
      e.apply(r);
    }
    return e;
  }

  /** Reads devices.list: "a *:* rwm" means allow-all (its deny exceptions are not listed). */
  static fromList(text: string): DeviceEmulator {
    const e = new DeviceEmulator();
    for (const line of text.split("\n")) {
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
      if (!m) continue;
      const major = m[2] === "*" ? -1 : Number(m[2]);
      const minor = m[3] === "*" ? -1 : Number(m[3]);
      if (m[1] === "a") {
        e.defaultAllow = true;
        e.exceptions.clear();
        continue;
      }
      e.apply({ allow: true, type: m[1] as DeviceType, major, minor, access: m[4] as string });
    }
    return e;
  }

  /**
   * One write to devices.allow or devices.deny, as security/device_cgroup.c does it: "a" resets
   * to that default with no exceptions; a rule with the other polarity ORs its access into the
   * exception with exactly its type and numbers (dev_exception_add); a rule with the default's
   * own polarity clears its access from that exact exception only and never fails
   * (dev_exception_rm), whatever wider exceptions still grant.
   */
  apply(r: DeviceRule): void {
    if (r.type === "a") {
      this.defaultAllow = r.allow;
      this.exceptions.clear();
      return;
    }
    const k = keyOf(r.type, r.major, r.minor);
    if (r.allow !== this.defaultAllow) {
      this.exceptions.set(k, normAccess((this.exceptions.get(k) ?? "") + r.access));
      return;
    }
    const left = minus(this.exceptions.get(k) ?? "", r.access);
    if (left) this.exceptions.set(k, left);
    else this.exceptions.delete(k);
  }

  private refuseHole(r: DeviceRule): void {
    for (const [major, minor] of [
      [-1, r.minor],
      [r.major, -1],
      [-1, -1],
    ] as const) {
      if (major === r.major && minor === r.minor) continue;
      const wide = this.exceptions.get(keyOf(r.type, major, minor)) ?? "";
      if ([...r.access].some((c) => wide.includes(c))) {
        throw new HoodError(
          `device rule "${ruleText(r)}" cannot narrow the wider rule "${ruleText({ type: r.type, major, minor, access: wide })}": the devices cgroup does not support it`,
          "INVALID_SPEC",
        );
      }
    }
  }

  /** The rules that rebuild this state from scratch: the default first, then the exceptions. */
  rules(): DeviceRule[] {
    const out: DeviceRule[] = [
      { allow: this.defaultAllow, type: "a", major: -1, minor: -1, access: "rwm" },
    ];
    for (const k of sortedKeys(this.exceptions)) {
      out.push({ allow: !this.defaultAllow, ...parseKey(k), access: this.exceptions.get(k)! });
    }
    return out;
  }

  /** devices.list as the kernel would print it (a deny-default list shows its exceptions). */
  list(): string[] {
    if (this.defaultAllow) return ["a *:* rwm"];
    return sortedKeys(this.exceptions).map((k) =>
      ruleText({ ...parseKey(k), access: this.exceptions.get(k)! }),
    );
  }

  /**
   * The rules to write to go from this state to target (runc's Transition). A change of default,
   * or an allow-all source (whose deny exceptions devices.list does not show), needs the
   * disruptive "a" rule; otherwise only the access that differs is written. Dropping access
   * from an exception that a wider exception of the target still grants ("b 8:* wm" going while
   * "b *:* w" stays) is an ordinary exact-key edit for the kernel, so it is written as is.
   */
  transition(target: DeviceEmulator): DeviceRule[] {
    const out: DeviceRule[] = [];
    let old = this.exceptions;
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ allow: target.defaultAllow, type: "a", major: -1, minor: -1, access: "rwm" });
      old = new Map();
    }
    for (const k of sortedKeys(old)) {
      const dropped = minus(old.get(k)!, target.exceptions.get(k) ?? "");
      if (dropped) out.push({ allow: target.defaultAllow, ...parseKey(k), access: dropped });
    }
    for (const k of sortedKeys(target.exceptions)) {
      const gained = minus(target.exceptions.get(k)!, old.get(k) ?? "");
      if (gained) out.push({ allow: !target.defaultAllow, ...parseKey(k), access: gained });
    }
    return out;
  }

  equals(other: DeviceEmulator): boolean {
    if (this.defaultAllow !== other.defaultAllow) return false;
    if (this.exceptions.size !== other.exceptions.size) return false;
    for (const [k, v] of this.exceptions) if (other.exceptions.get(k) !== v) return false;
    return true;
  }
}

// eBPF, as the kernel's uapi/linux/bpf.h defines it.
const BPF_DEVCG_ACC_MKNOD = 1;
const BPF_DEVCG_ACC_READ = 2;
const BPF_DEVCG_ACC_WRITE = 4;
const BPF_DEVCG_DEV_BLOCK = 1;
const BPF_DEVCG_DEV_CHAR = 2;

export const OP = {
  LDXW: 0x61, // dst = *(u32 *)(src + off)
  AND32_K: 0x54,
  RSH32_K: 0x74,
  MOV32_K: 0xb4,
  MOV32_X: 0xbc,
  JNE_K: 0x55,
  JNE_X: 0x5d,
  JEQ_K: 0x15,
  EXIT: 0x95,
} as const;

export interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function insn(op: number, dst: number, src: number, off: number, imm: number): Insn {
  return { op, dst, src, off, imm };
}

/**
 * The cgroup v2 device program for a rule list. The rules are first reduced by the emulator (so
 * v2 enforces exactly what v1 would), then each exception becomes a block that checks type,
 * access, major and minor and returns its verdict; the default verdict ends the program.
 *
 * An allow exception matches when it grants every access asked for; a deny exception (in an
 * allow-all program) when it covers any of them, as the v1 controller decides.
 */
export function deviceProgram(rules: readonly DeviceRule[]): Insn[] {
  const emu = DeviceEmulator.fromRules(rules);
  // struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major; u32 minor; }
  const prologue: Insn[] = [
    insn(OP.LDXW, 2, 1, 0, 0),
    insn(OP.AND32_K, 2, 0, 0, 0xffff),
    insn(OP.LDXW, 3, 1, 0, 0),
    insn(OP.RSH32_K, 3, 0, 0, 16),
    insn(OP.LDXW, 4, 1, 4, 0),
    insn(OP.LDXW, 5, 1, 8, 0),
  ];
  const blocks: Insn[][] = [];
  for (const r of emu.rules().slice(1)) {
    const block: { i: Insn; jumpsToNext: boolean }[] = [];
    const type = r.type === "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
    let access = 0;
    if (r.access.includes("r")) access |= BPF_DEVCG_ACC_READ;
    if (r.access.includes("w")) access |= BPF_DEVCG_ACC_WRITE;
    if (r.access.includes("m")) access |= BPF_DEVCG_ACC_MKNOD;
    block.push({ i: insn(OP.JNE_K, 2, 0, 0, type), jumpsToNext: true });
    if (access !== 7) {
      block.push({ i: insn(OP.MOV32_X, 1, 3, 0, 0), jumpsToNext: false });
      block.push({ i: insn(OP.AND32_K, 1, 0, 0, access), jumpsToNext: false });
      block.push(
        r.allow
          ? { i: insn(OP.JNE_X, 1, 3, 0, 0), jumpsToNext: true }
          : { i: insn(OP.JEQ_K, 1, 0, 0, 0), jumpsToNext: true },
      );
    }
    if (r.major >= 0) block.push({ i: insn(OP.JNE_K, 4, 0, 0, r.major), jumpsToNext: true });
    if (r.minor >= 0) block.push({ i: insn(OP.JNE_K, 5, 0, 0, r.minor), jumpsToNext: true });
    block.push({ i: insn(OP.MOV32_K, 0, 0, 0, r.allow ? 1 : 0), jumpsToNext: false });
    block.push({ i: insn(OP.EXIT, 0, 0, 0, 0), jumpsToNext: false });
    // A jump's offset counts from the next instruction; "next" is the first one past the block.
    blocks.push(
      block.map(({ i }, idx) =>
        block[idx]!.jumpsToNext ? { ...i, off: block.length - idx - 1 } : i,
      ),
    );
  }
  return [
    ...prologue,
    ...blocks.flat(),
    insn(OP.MOV32_K, 0, 0, 0, emu.defaultAllow ? 1 : 0),
    insn(OP.EXIT, 0, 0, 0, 0),
  ];
}

/** The program as the kernel takes it: 8 bytes per instruction, little-endian. */
export function encodeProgram(insns: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    buf.writeUInt8(x.op, i * 8);
    buf.writeUInt8((x.dst & 0xf) | ((x.src & 0xf) << 4), i * 8 + 1);
    buf.writeInt16LE(x.off, i * 8 + 2);
    buf.writeInt32LE(x.imm | 0, i * 8 + 4);
  });
  return buf;
}
