/**
 * hood's compiler against libseccomp 2.5: random profiles are compiled by both, and tens of
 * thousands of (arch, nr, args) vectors run through both filters in hood's BPF interpreter
 * must get the same action. Profiles avoid only what libseccomp leaves undefined (two actions
 * for overlapping conditions on one syscall): conditional rules of different actions are
 * made disjoint by a tag on argument 5.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ACTION_NAMES,
  type ActionName,
  describeAction,
  SECCOMP_RET,
} from "../../../src/seccomp/actions.ts";
import {
  type Arch,
  findArch,
  IPC_SUBCALLS,
  SOCKETCALL_SUBCALLS,
  X32_SYSCALL_BIT,
} from "../../../src/seccomp/arches.ts";
import { compileSeccomp } from "../../../src/seccomp/index.ts";
import {
  OPERATOR_NAMES,
  type SeccompArg,
  type SeccompSpec,
  type SeccompSyscall,
} from "../../../src/seccomp/profile.ts";
import { simulate } from "../../../src/seccomp/simulate.ts";
import { buildHarness, type Harness, harnessScript, libseccompProgram } from "./libseccomp.ts";
import { referenceAction } from "./reference.ts";

let harness: Harness | string;
before(() => {
  harness = buildHarness();
});
after(() => {
  if (typeof harness !== "string") harness.close();
});

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ARCH_SETS: string[][] = [
  ["x86_64"],
  ["x86_64", "x86"],
  ["x86_64", "x32"],
  ["x86_64", "x86", "x32"],
  ["x32"],
  ["x86"],
  ["aarch64", "arm"],
  ["riscv64"],
  ["s390x", "s390"],
  ["ppc64le"],
  ["mips64", "mips64n32"],
  ["arm"],
];

const INTERESTING: bigint[] = [
  0n,
  1n,
  2n,
  7n,
  40n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x100000005n,
  0x7e020000n,
  0xdeadbeef00000001n,
  0xffffffffffffffffn,
  0x8000000000000000n,
];

interface Coverage {
  actions: Set<string>;
  ops: Set<string>;
  above32: number;
  x32OnX86_64: number;
  i386: number;
  unknownArch: number;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function randomValue(r: () => number): bigint {
  const v = pick(r, INTERESTING);
  const roll = r();
  if (roll < 0.15) return BigInt(Math.floor(r() * 2 ** 32)) | (BigInt(Math.floor(r() * 4)) << 32n);
  return v;
}

function randomAction(r: () => number): { action: ActionName; errnoRet?: number } {
  const action = pick(r, ACTION_NAMES);
  if (action === "SCMP_ACT_ERRNO" || action === "SCMP_ACT_TRACE") {
    return { action, errnoRet: pick(r, [1, 2, 13, 38, 4000]) };
  }
  return { action };
}

function randomProfile(r: () => number, arches: Arch[], cov: Coverage): SeccompSpec {
  const names = new Set<string>();
  for (const a of arches) for (const n of a.syscalls.keys()) names.add(n);
  for (const n of [...Object.keys(SOCKETCALL_SUBCALLS), ...Object.keys(IPC_SUBCALLS)]) names.add(n);
  // Rules on the multiplexers themselves would overlap the rules libseccomp derives for them.
  names.delete("socketcall");
  names.delete("ipc");
  const pool = [...names];
  const muxable = new Set([...Object.keys(SOCKETCALL_SUBCALLS), ...Object.keys(IPC_SUBCALLS)]);
  const dflt = randomAction(r);
  if (dflt.action === "SCMP_ACT_NOTIFY") dflt.action = "SCMP_ACT_ERRNO";
  const syscalls: SeccompSyscall[] = [];
  const used = new Set<string>();
  const count = 5 + Math.floor(r() * 40);
  for (let i = 0; i < count; i++) {
    let name = pick(r, pool);
    if (i % 7 === 3) name = pick(r, [...muxable]);
    if (used.has(name)) continue;
    used.add(name);
    const mode = r();
    if (mode < 0.45) {
      syscalls.push({
        names: [name, ...(r() < 0.1 ? ["no_such_syscall_hood"] : [])],
        ...randomAction(r),
      });
      continue;
    }
    const groups = muxable.has(name) || mode < 0.7 ? 1 : 2;
    for (let g = 0; g < groups; g++) {
      const act = randomAction(r);
      const rules = 1 + Math.floor(r() * 3);
      for (let k = 0; k < rules; k++) {
        const args: SeccompArg[] = [];
        const idx = [0, 1, 2, 3, 4].sort(() => r() - 0.5).slice(0, 1 + Math.floor(r() * 3));
        for (const index of idx) {
          const op = pick(r, OPERATOR_NAMES);
          cov.ops.add(op);
          const arg: SeccompArg = { index, op, value: randomValue(r) };
          if (op === "SCMP_CMP_MASKED_EQ")
            arg.valueTwo = r() < 0.5 ? 0n : BigInt(arg.value) & randomValue(r);
          args.push(arg);
        }
        if (groups === 2) args.push({ index: 5, op: "SCMP_CMP_EQ", value: BigInt(100 + g) });
        else if (r() < 0.1 && args.length > 0) {
          // Two conditions on one argument: runc makes them alternatives.
          args.push({
            index: args[0]!.index,
            op: pick(r, OPERATOR_NAMES),
            value: randomValue(r),
            valueTwo: 0n,
          });
        }
        syscalls.push({ names: [name], ...act, args });
      }
    }
  }
  const spec: SeccompSpec = {
    defaultAction: dflt.action,
    architectures: arches.map((a) => a.oci),
    listenerPath: "/run/agent.sock",
    syscalls,
  };
  if (dflt.errnoRet !== undefined) spec.defaultErrnoRet = dflt.errnoRet;
  return spec;
}

function vectors(r: () => number, spec: SeccompSpec, arches: Arch[], n: number) {
  const constants: bigint[] = [...INTERESTING, 100n, 101n];
  for (const s of spec.syscalls ?? []) {
    for (const a of s.args ?? []) {
      const v = BigInt(a.value);
      constants.push(
        v,
        v + 1n,
        v - 1n,
        v | 0xffffffff00000000n,
        v + 0x100000000n,
        BigInt(a.valueTwo ?? 0),
      );
    }
  }
  const named: Array<[Arch, number]> = [];
  for (const a of arches) {
    for (const s of spec.syscalls ?? []) {
      for (const name of s.names) {
        const nr = a.syscalls.get(name);
        if (nr !== undefined) named.push([a, nr]);
        if (a.socketcall !== undefined && name in SOCKETCALL_SUBCALLS)
          named.push([a, a.socketcall]);
        if (a.ipc !== undefined && name in IPC_SUBCALLS) named.push([a, a.ipc]);
      }
    }
  }
  const x86 = findArch("x86")!;
  const x32 = findArch("x32")!;
  const out: Array<{ arch: number; nr: number; args: bigint[] }> = [];
  for (let i = 0; i < n; i++) {
    const roll = r();
    let arch: number;
    let nr: number;
    if (roll < 0.6 && named.length > 0) {
      const [a, num] = pick(r, named);
      arch = a.audit;
      nr = num;
    } else if (roll < 0.75) {
      const a = pick(r, arches);
      arch = a.audit;
      nr = pick(r, [...a.syscalls.values()]);
    } else if (roll < 0.85) {
      const a = pick(r, arches);
      arch = a.audit;
      nr = pick(r, [
        0,
        0xffffffff,
        X32_SYSCALL_BIT,
        X32_SYSCALL_BIT - 1,
        X32_SYSCALL_BIT + 1,
        0x40000200,
        1000,
        5000,
        0x7fffffff,
        0x80000000,
        Math.floor(r() * 2 ** 32),
      ]);
    } else if (roll < 0.93) {
      // An x32 or i386 call reaching an x86_64 filter (x32 numbers carry bit 30).
      const from = r() < 0.5 ? x32 : x86;
      arch = from === x32 ? x32.audit : x86.audit;
      nr = pick(r, [...from.syscalls.values()]);
    } else {
      arch = pick(r, [0x12345678, 0, 0xc00000b7, 0x40000003, 0x80000016]);
      nr = pick(r, [0, 1, 59, 102]);
    }
    const args = Array.from({ length: 6 }, () => (r() < 0.8 ? pick(r, constants) : randomValue(r)));
    out.push({ arch, nr, args: args.map((v) => BigInt.asUintN(64, v)) });
  }
  return out;
}

test("hood and libseccomp filters give the same action for every generated vector", (t) => {
  if (typeof harness === "string") return t.skip(harness);
  const r = rng(20240601);
  const cov: Coverage = {
    actions: new Set(),
    ops: new Set(),
    above32: 0,
    x32OnX86_64: 0,
    i386: 0,
    unknownArch: 0,
  };
  const auditKnown = new Set<number>();
  let checked = 0;
  const skipped: string[] = [];
  let libseccompWrong = 0;
  const failures: string[] = [];
  for (let p = 0; p < 84; p++) {
    const arches = ARCH_SETS[p % ARCH_SETS.length]!.map((n) => findArch(n)!);
    const spec = randomProfile(r, arches, cov);
    const ours = compileSeccomp(spec, { arch: arches[0]!.name, enosys: false });
    const script = harnessScript(spec, arches, { badArch: SECCOMP_RET.KILL_PROCESS });
    const theirs = libseccompProgram(harness, script, arches[0]!);
    if (typeof theirs === "string") {
      skipped.push(`profile ${p}: ${theirs}`);
      continue;
    }
    for (const a of arches) auditKnown.add(a.audit);
    for (const v of vectors(r, spec, arches, 520)) {
      const a = simulate(ours.program, v, ours.endian);
      const b = simulate(theirs, v, arches[0]!.endian);
      checked++;
      cov.actions.add(describeAction(a.value).replace(/\(.*\)/, ""));
      if (v.args.some((x) => x > 0xffffffffn)) cov.above32++;
      if (
        arches[0]!.name === "x86_64" &&
        v.arch === 0xc000003e &&
        v.nr >= X32_SYSCALL_BIT &&
        v.nr !== 0xffffffff
      )
        cov.x32OnX86_64++;
      if (arches[0]!.name === "x86_64" && v.arch === 0x40000003) cov.i386++;
      if (![...arches].some((x) => x.audit === v.arch)) cov.unknownArch++;
      const ref = referenceAction(spec, arches, v);
      if (a.value !== b.value) {
        // libseccomp 2.5.4 sometimes skips a reload of the accumulator; the referee decides.
        if (b.value !== ref && a.value === ref) libseccompWrong++;
        else if (failures.length < 10) {
          failures.push(
            `profile ${p} (${arches.map((x) => x.name).join(",")}): arch 0x${v.arch.toString(16)} nr ${v.nr} args ${v.args.map((x) => `0x${x.toString(16)}`).join(",")}: hood ${describeAction(a.value)}, libseccomp ${describeAction(b.value)}, reference ${describeAction(ref)}`,
          );
        }
      } else if (a.value !== ref && failures.length < 10) {
        failures.push(
          `profile ${p}: hood and libseccomp agree on ${describeAction(a.value)} but the reference says ${describeAction(ref)}`,
        );
      }
    }
  }
  assert.deepEqual(failures, []);
  // libseccomp 2.5.4 loops or refuses on a few generated mixes; they must stay rare.
  assert.ok(skipped.length <= 12, skipped.join("\n"));
  assert.ok(checked >= 30000, `only ${checked} vectors`);
  // Where libseccomp's BPF contradicts its own rules (about 4% of these vectors, all on
  // syscalls with several conditional rules), hood must match the reference instead.
  assert.ok(
    libseccompWrong < checked / 10,
    `libseccomp was wrong on ${libseccompWrong} of ${checked}`,
  );
  t.diagnostic(
    `${checked} vectors, ${skipped.length} profiles libseccomp could not build, ${libseccompWrong} vectors where libseccomp's BPF is wrong`,
  );
  for (const action of [
    "ALLOW",
    "ERRNO",
    "TRACE",
    "TRAP",
    "LOG",
    "USER_NOTIF",
    "KILL_THREAD",
    "KILL_PROCESS",
  ]) {
    assert.ok(cov.actions.has(action), `no vector ended in ${action}`);
  }
  assert.equal(cov.ops.size, OPERATOR_NAMES.length);
  assert.ok(
    cov.above32 > 1000 && cov.x32OnX86_64 > 100 && cov.i386 > 100 && cov.unknownArch > 100,
    JSON.stringify({ ...cov, actions: [...cov.actions], ops: [...cov.ops] }),
  );
});
