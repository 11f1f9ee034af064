/**
 * The meaning of a profile for one call, written straight from the rules hood follows (runc's
 * use of libseccomp), without any BPF. It referees the differential test: where libseccomp
 * 2.5.4's own BPF is wrong (it has accumulator-tracking bugs), hood must still agree with this.
 */
import { actionValue, SECCOMP_RET } from "../../../src/seccomp/actions.ts";
import {
  type Arch,
  IPC_SUBCALLS,
  SOCKETCALL_SUBCALLS,
  X32_SYSCALL_BIT,
} from "../../../src/seccomp/arches.ts";
import type { SeccompArg, SeccompSpec } from "../../../src/seccomp/profile.ts";

function holds(a: SeccompArg, args: readonly bigint[], bits: 32 | 64): boolean {
  const width = bits === 32 ? 0xffffffffn : 0xffffffffffffffffn;
  const x = (args[a.index] ?? 0n) & width;
  const v = BigInt(a.value) & width;
  switch (a.op) {
    case "SCMP_CMP_EQ":
      return x === v;
    case "SCMP_CMP_NE":
      return x !== v;
    case "SCMP_CMP_LT":
      return x < v;
    case "SCMP_CMP_LE":
      return x <= v;
    case "SCMP_CMP_GT":
      return x > v;
    case "SCMP_CMP_GE":
      return x >= v;
    case "SCMP_CMP_MASKED_EQ":
      return (x & v) === (BigInt(a.valueTwo ?? 0n) & width);
  }
}

/** Which admitted ABI a call belongs to, or undefined for the bad-arch action. */
function abiOf(arches: Arch[], audit: number, nr: number): Arch | undefined {
  const same = arches.filter((a) => a.audit === audit);
  if (same.length === 0) return undefined;
  const x86_64 = same.find((a) => a.name === "x86_64");
  const x32 = same.find((a) => a.name === "x32");
  if (!x86_64 && !x32) return same[0];
  const bit = nr >= X32_SYSCALL_BIT;
  if (x86_64 && x32) return bit ? x32 : x86_64;
  if (x86_64) return bit && nr !== 0xffffffff ? undefined : x86_64;
  return bit ? x32 : undefined;
}

export function referenceAction(
  spec: SeccompSpec,
  arches: Arch[],
  call: { arch: number; nr: number; args: readonly bigint[] },
  badArch = SECCOMP_RET.KILL_PROCESS,
): number {
  const abi = abiOf(arches, call.arch, call.nr);
  if (!abi) return badArch;
  const dflt = actionValue(spec.defaultAction, spec.defaultErrnoRet);
  const rules: Array<{ conds: SeccompArg[]; action: number }> = [];
  for (const s of spec.syscalls ?? []) {
    const action = actionValue(s.action, s.errnoRet);
    if (action === dflt) continue;
    const args = s.args ?? [];
    const dup = new Set(args.map((a) => a.index)).size !== args.length;
    for (const name of s.names) {
      const groups = dup ? args.map((a) => [a]) : [args];
      for (const g of groups) {
        if (abi.syscalls.get(name) === call.nr) rules.push({ conds: g, action });
        const sub = SOCKETCALL_SUBCALLS[name] ?? IPC_SUBCALLS[name];
        const mux = SOCKETCALL_SUBCALLS[name] !== undefined ? abi.socketcall : abi.ipc;
        if (sub !== undefined && mux === call.nr) {
          rules.push({ conds: [{ index: 0, op: "SCMP_CMP_EQ", value: BigInt(sub) }], action });
        }
      }
    }
  }
  const always = rules.find((r) => r.conds.length === 0);
  if (always) return always.action;
  for (const r of rules) if (r.conds.every((c) => holds(c, call.args, abi.bits))) return r.action;
  return dflt;
}
