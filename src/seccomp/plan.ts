/**
 * The meaning of a profile, per ABI, before any BPF is written: for each syscall number the
 * action it always gets, or the conditional rules tried in order. The choices follow runc
 * and crun on libseccomp, so a profile means the same under hood:
 * - a rule whose action equals the default action is dropped;
 * - an unconditional rule beats conditional ones, and the first unconditional rule wins;
 * - several conditions on the same argument in one rule become one rule per condition (OR);
 * - on 32-bit ABIs only the low 32 bits of arguments and values are compared;
 * - where libseccomp multiplexes (socketcall, ipc), a rule on `socket` also becomes a rule on
 *   socketcall(SYS_SOCKET, ...), whose own arguments cannot be inspected.
 */
import { actionValue, SECCOMP_RET } from "./actions.ts";
import type { Arch } from "./arches.ts";
import {
  findArch,
  IPC_SUBCALLS,
  isKnownSyscall,
  KNOWN_WITHOUT_TABLE,
  SOCKETCALL_SUBCALLS,
} from "./arches.ts";
import type { OperatorName, SeccompArg, SeccompSpec, Uint64 } from "./profile.ts";

export type CmpOp = "NE" | "LT" | "LE" | "EQ" | "GE" | "GT" | "MASKED_EQ";

export interface Condition {
  arg: number;
  op: CmpOp;
  /** The compared value (for MASKED_EQ the value the masked argument must equal). */
  value: bigint;
  /** MASKED_EQ only. */
  mask: bigint;
}

export interface Rule {
  conditions: Condition[];
  action: number;
}

export interface SyscallPlan {
  /** Set when an unconditional rule applies: it decides alone. */
  always?: number;
  rules: Rule[];
}

export interface ArchPlan {
  arch: Arch;
  syscalls: Map<number, SyscallPlan>;
}

export interface FilterPlan {
  defaultAction: number;
  arches: ArchPlan[];
  warnings: string[];
}

const U64 = (1n << 64n) - 1n;
const U32 = 0xffffffffn;

export function toBig(v: Uint64 | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === "bigint") return v & U64;
  // 2^64 is what 2^64 - 1 becomes through JSON.parse.
  return v >= 2 ** 64 ? U64 : BigInt(v);
}

function opOf(name: OperatorName): CmpOp {
  return name.slice("SCMP_CMP_".length) as CmpOp;
}

function condition(a: SeccompArg, bits: 32 | 64): Condition {
  const op = opOf(a.op);
  const width = bits === 32 ? U32 : U64;
  if (op === "MASKED_EQ") {
    return { arg: a.index, op, mask: toBig(a.value) & width, value: toBig(a.valueTwo) & width };
  }
  return { arg: a.index, op, value: toBig(a.value) & width, mask: width };
}

function addRule(plans: Map<number, SyscallPlan>, nr: number, rule: Rule): void {
  let plan = plans.get(nr);
  if (!plan) {
    plan = { rules: [] };
    plans.set(nr, plan);
  }
  if (plan.always !== undefined) return;
  if (rule.conditions.length === 0) {
    plan.always = rule.action;
    plan.rules = [];
  } else {
    plan.rules.push(rule);
  }
}

export interface PlanOptions {
  /** The ABIs the filter admits, in the order the arch checks are written. */
  arches: Arch[];
}

/** Which ABIs a profile admits on a host whose native ABI is `native`; unknown names warn. */
export function planArches(spec: SeccompSpec, native: Arch, warnings: string[]): Arch[] {
  const out: Arch[] = [];
  const add = (a: Arch) => {
    if (!out.includes(a)) out.push(a);
  };
  // runc and crun start from seccomp_init, which always admits the native ABI; it goes first
  // so that its calls pass a single arch check.
  add(native);
  const listed = spec.architectures ?? [];
  for (const name of listed) {
    const a = findArch(name);
    if (!a) {
      if (KNOWN_WITHOUT_TABLE.has(name)) {
        warnings.push(
          `architecture ${name} has no syscall table in hood; its calls get the bad-arch action`,
        );
      }
      continue;
    }
    if (a.endian !== native.endian) {
      warnings.push(
        `architecture ${name} is ${a.endian === "be" ? "big" : "little"}-endian and cannot run on a ${native.name} host; skipped`,
      );
      continue;
    }
    add(a);
  }
  return out;
}

/** Builds the per-ABI plan of a validated, resolved OCI profile. */
export function planFilter(spec: SeccompSpec, opts: PlanOptions): FilterPlan {
  const warnings: string[] = [];
  const defaultAction = actionValue(spec.defaultAction, spec.defaultErrnoRet);
  const arches: ArchPlan[] = opts.arches.map((arch) => ({ arch, syscalls: new Map() }));
  const unknown = new Set<string>();
  const widened = new Set<string>();
  (spec.syscalls ?? []).forEach((s, i) => {
    const action = actionValue(s.action, s.errnoRet);
    if (action === defaultAction) return;
    const args = s.args ?? [];
    const counts = new Map<number, number>();
    for (const a of args) counts.set(a.index, (counts.get(a.index) ?? 0) + 1);
    const split = [...counts.values()].some((c) => c > 1);
    if (split) {
      warnings.push(
        `syscalls[${i}]: several conditions on one argument are alternatives (OR), as in runc and crun`,
      );
    }
    const groups: SeccompArg[][] = split ? args.map((a) => [a]) : [args];
    for (const name of s.names) {
      if (!isKnownSyscall(name)) {
        unknown.add(name);
        continue;
      }
      for (const ap of arches) {
        const { arch } = ap;
        const nr = arch.syscalls.get(name);
        for (const group of groups) {
          const conditions = group.map((a) => condition(a, arch.bits));
          conditions.sort((x, y) => x.arg - y.arg);
          if (nr !== undefined) addRule(ap.syscalls, nr, { conditions, action });
          const sub = SOCKETCALL_SUBCALLS[name];
          const ipc = IPC_SUBCALLS[name];
          const mux =
            sub !== undefined && arch.socketcall !== undefined
              ? { nr: arch.socketcall, sub }
              : ipc !== undefined && arch.ipc !== undefined
                ? { nr: arch.ipc, sub: ipc }
                : undefined;
          if (mux) {
            if (conditions.length > 0) widened.add(`${name} on ${arch.name}`);
            addRule(ap.syscalls, mux.nr, {
              conditions: [{ arg: 0, op: "EQ", value: BigInt(mux.sub), mask: U32 }],
              action,
            });
          }
        }
      }
    }
  });
  if (unknown.size > 0) {
    warnings.push(`unknown syscalls skipped: ${[...unknown].sort().join(", ")}`);
  }
  if (widened.size > 0) {
    warnings.push(
      `the multiplexed form of ${[...widened].sort().join(", ")} cannot check arguments; it matches on the sub-call alone, as in libseccomp`,
    );
  }
  return { defaultAction, arches, warnings };
}

export const BAD_ARCH_ACTION = SECCOMP_RET.KILL_PROCESS;
