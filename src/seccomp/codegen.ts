/**
 * Writes the BPF for a FilterPlan. The program is built as a DAG of nodes, shared by value
 * (two syscalls with the same rules share one block), then laid out and assembled:
 *
 *   ld arch; jeq ABI1 ...; jeq ABI2 ...; ret BAD_ARCH
 *   ABI:  ld nr; a binary search over ranges of syscall numbers; leaves are `ret` or the
 *         argument checks of one syscall
 *
 * The search tree is weighted by the ABI's syscall table so that the mean number of
 * instructions a real syscall executes is as small as it can be for a tree of range tests.
 * Out-of-range conditional jumps (BPF offsets are 8 bits) get a copy of the `ret` they aim
 * at, or a `ja` trampoline.
 */
import { isPermissive, SECCOMP_RET } from "./actions.ts";
import { type Arch, tableNumbers, X32_SYSCALL_BIT } from "./arches.ts";
import { argOffset, BPF_MAXINSNS, type Endian, type Insn, OP, SECCOMP_DATA } from "./bpf.ts";
import type { ArchPlan, Condition, FilterPlan, SyscallPlan } from "./plan.ts";

const ENOSYS = 38;
const U32 = 0xffffffff;

type Node =
  | { kind: "ret"; id: number; k: number }
  | { kind: "ld"; id: number; off: number; next: Node }
  | { kind: "and"; id: number; k: number; next: Node }
  | { kind: "jmp"; id: number; op: number; k: number; jt: Node; jf: Node };

export class FilterTooLargeError extends Error {}

/** Builds nodes, sharing every node equal to one already built. */
class Dag {
  private readonly byKey = new Map<string, Node>();
  private count = 0;

  constructor(private readonly budget: number) {}

  private intern(key: string, make: (id: number) => Node): Node {
    const found = this.byKey.get(key);
    if (found) return found;
    if (++this.count > this.budget) {
      throw new FilterTooLargeError(`the profile needs more than ${this.budget} BPF nodes`);
    }
    const n = make(this.count);
    this.byKey.set(key, n);
    return n;
  }

  ret(k: number): Node {
    const v = k >>> 0;
    return this.intern(`r${v}`, (id) => ({ kind: "ret", id, k: v }));
  }

  ld(off: number, next: Node): Node {
    return this.intern(`l${off},${next.id}`, (id) => ({ kind: "ld", id, off, next }));
  }

  and(k: number, next: Node): Node {
    const v = k >>> 0;
    return this.intern(`a${v},${next.id}`, (id) => ({ kind: "and", id, k: v, next }));
  }

  jmp(op: number, k: number, jt: Node, jf: Node): Node {
    if (jt === jf) return jt;
    const v = k >>> 0;
    return this.intern(`j${op},${v},${jt.id},${jf.id}`, (id) => ({
      kind: "jmp",
      id,
      op,
      k: v,
      jt,
      jf,
    }));
  }
}

export interface CodegenOptions {
  endian: Endian;
  badArchAction: number;
  /** runc's ENOSYS stub: numbers above the highest the profile names get ENOSYS. */
  enosys: boolean;
  /** The ABI whose arch check comes first (the host's). */
  native: Arch;
}

function hi(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn);
}

function lo(v: bigint): number {
  return Number(v & 0xffffffffn);
}

/** Code for one 32-bit comparison on the accumulator: pass when `A op k`. */
function cmp32(d: Dag, op: "EQ" | "GT" | "GE", k: number, pass: Node, fail: Node): Node {
  if (op === "GE" && k === 0) return pass;
  if (op === "GT" && k === U32) return fail;
  const code = op === "EQ" ? OP.JEQ_K : op === "GT" ? OP.JGT_K : OP.JGE_K;
  return d.jmp(code, k, pass, fail);
}

function condition(
  d: Dag,
  c: Condition,
  wide: boolean,
  endian: Endian,
  pass: Node,
  fail: Node,
): Node {
  const hiOff = argOffset(c.arg, "hi", endian);
  const loOff = argOffset(c.arg, "lo", endian);
  switch (c.op) {
    case "NE":
      return condition(d, { ...c, op: "EQ" }, wide, endian, fail, pass);
    case "LT":
      return condition(d, { ...c, op: "GE" }, wide, endian, fail, pass);
    case "LE":
      return condition(d, { ...c, op: "GT" }, wide, endian, fail, pass);
    case "EQ": {
      const low = d.ld(loOff, cmp32(d, "EQ", lo(c.value), pass, fail));
      if (!wide) return low;
      return d.ld(hiOff, cmp32(d, "EQ", hi(c.value), low, fail));
    }
    case "GT":
    case "GE": {
      if (c.op === "GE" && c.value === 0n) return pass;
      const low = d.ld(loOff, cmp32(d, c.op, lo(c.value), pass, fail));
      if (!wide) return low;
      const h = hi(c.value);
      // Above the high word passes, below fails, equal decides on the low word.
      let test: Node;
      if (h === 0) test = d.jmp(OP.JEQ_K, 0, low, pass);
      else if (h === U32) test = d.jmp(OP.JEQ_K, U32, low, fail);
      else test = d.jmp(OP.JGT_K, h, pass, d.jmp(OP.JEQ_K, h, low, fail));
      return d.ld(hiOff, test);
    }
    case "MASKED_EQ": {
      let next = pass;
      const halves: Array<[number, number, number]> = [[loOff, lo(c.mask), lo(c.value)]];
      if (wide) halves.unshift([hiOff, hi(c.mask), hi(c.value)]);
      for (let i = halves.length - 1; i >= 0; i--) {
        const [off, mask, value] = halves[i]!;
        if ((value & ~mask) !== 0) return fail;
        if (mask === 0) continue;
        let test: Node;
        if (mask === U32) test = d.jmp(OP.JEQ_K, value, next, fail);
        else if ((mask & (mask - 1)) === 0) {
          // One bit: jset tests it without clobbering the accumulator with an `and`.
          test =
            value === 0 ? d.jmp(OP.JSET_K, mask, fail, next) : d.jmp(OP.JSET_K, mask, next, fail);
        } else test = d.and(mask, d.jmp(OP.JEQ_K, value, next, fail));
        next = d.ld(off, test);
      }
      return next;
    }
  }
}

function syscallBlock(d: Dag, plan: SyscallPlan, wide: boolean, endian: Endian, dflt: Node): Node {
  if (plan.always !== undefined) return d.ret(plan.always);
  let next = dflt;
  for (let r = plan.rules.length - 1; r >= 0; r--) {
    const rule = plan.rules[r]!;
    let node = d.ret(rule.action);
    for (let c = rule.conditions.length - 1; c >= 0; c--) {
      node = condition(d, rule.conditions[c]!, wide, endian, node, next);
    }
    next = node;
  }
  return next;
}

interface Segment {
  lo: number;
  hi: number;
  node: Node;
  weight: number;
}

/** Paints [lo, hi] with node over a sorted, gap-free list of segments. */
function paint(segs: Segment[], lo: number, hi: number, node: Node): void {
  const out: Segment[] = [];
  const painted: Segment = { lo, hi, node, weight: 0 };
  let placed = false;
  for (const s of segs) {
    if (s.hi < lo || s.lo > hi) {
      if (s.lo > hi && !placed) {
        out.push(painted);
        placed = true;
      }
      out.push(s);
      continue;
    }
    if (s.lo < lo) out.push({ ...s, hi: lo - 1 });
    if (!placed) {
      out.push(painted);
      placed = true;
    }
    if (s.hi > hi) out.push({ ...s, lo: hi + 1 });
  }
  if (!placed) out.push(painted);
  segs.splice(0, segs.length, ...out);
}

/** A binary search over the segments, minimising the weighted number of tests. */
function searchTree(d: Dag, segs: Segment[]): Node {
  const n = segs.length;
  if (n === 1) return segs[0]!.node;
  const prefix = [0];
  for (const s of segs) prefix.push(prefix.at(-1)! + s.weight);
  const weight = (i: number, j: number) => prefix[j + 1]! - prefix[i]!;
  if (n > 1500) return balanced(d, segs, 0, n - 1, weight);
  // Optimal alphabetic tree by dynamic programming with Knuth's monotone split points.
  const cost = new Float64Array(n * n);
  const root = new Int32Array(n * n);
  for (let i = 0; i < n; i++) root[i * n + i] = i;
  for (let len = 2; len <= n; len++) {
    for (let i = 0; i + len - 1 < n; i++) {
      const j = i + len - 1;
      const from = len === 2 ? i : root[i * n + j - 1]!;
      const to = len === 2 ? i : Math.min(root[(i + 1) * n + j]!, j - 1);
      let best = Number.POSITIVE_INFINITY;
      let bestR = from;
      for (let r = from; r <= to; r++) {
        const c = cost[i * n + r]! + cost[(r + 1) * n + j]!;
        if (c < best) {
          best = c;
          bestR = r;
        }
      }
      cost[i * n + j] = best + weight(i, j);
      root[i * n + j] = bestR;
    }
  }
  const build = (i: number, j: number): Node => {
    if (i === j) return segs[i]!.node;
    const r = root[i * n + j]!;
    return d.jmp(OP.JGE_K, segs[r + 1]!.lo, build(r + 1, j), build(i, r));
  };
  return build(0, n - 1);
}

function balanced(
  d: Dag,
  segs: Segment[],
  i: number,
  j: number,
  weight: (i: number, j: number) => number,
): Node {
  if (i === j) return segs[i]!.node;
  const total = weight(i, j);
  let r = i;
  while (r < j - 1 && weight(i, r + 1) < total / 2) r++;
  return d.jmp(
    OP.JGE_K,
    segs[r + 1]!.lo,
    balanced(d, segs, r + 1, j, weight),
    balanced(d, segs, i, r, weight),
  );
}

/** The code for one AUDIT_ARCH value (x86_64 and x32 share one). */
function archBlock(d: Dag, plans: ArchPlan[], dfltAction: number, opts: CodegenOptions): Node {
  const dflt = d.ret(dfltAction);
  const badArch = d.ret(opts.badArchAction);
  const segs: Segment[] = [{ lo: 0, hi: U32, node: dflt, weight: 0 }];
  const names = new Set(plans.map((p) => p.arch.name));
  const x86_64 = names.has("x86_64");
  const x32 = names.has("x32");
  if (x86_64 && !x32) {
    // x32 calls arrive with AUDIT_ARCH_X86_64 and bit 30 set: without x32 in the filter they
    // must not reach the x86_64 rules. -1 stays: it is how a tracer skips a call.
    paint(segs, X32_SYSCALL_BIT, U32 - 1, badArch);
  } else if (x32 && !x86_64) {
    paint(segs, 0, X32_SYSCALL_BIT - 1, badArch);
  }
  const useEnosys =
    opts.enosys && !isPermissive(dfltAction) && dfltAction !== (SECCOMP_RET.ERRNO | ENOSYS) >>> 0;
  if (useEnosys) {
    const enosys = d.ret(SECCOMP_RET.ERRNO | ENOSYS);
    for (const p of plans) {
      const nrs = [...p.syscalls.keys()];
      if (nrs.length === 0) continue;
      const max = Math.max(...nrs);
      const top = p.arch.name === "x86_64" && x32 ? X32_SYSCALL_BIT - 1 : U32;
      if (max < top) paint(segs, max + 1, top, enosys);
      if (p.arch.name.startsWith("s390")) paint(segs, 0, 0, enosys);
    }
  }
  for (const p of plans) {
    for (const [nr, plan] of p.syscalls) {
      paint(segs, nr, nr, syscallBlock(d, plan, p.arch.bits === 64, opts.endian, dflt));
    }
  }
  // Merge neighbours with the same code, then weigh each range by the table's calls in it.
  const merged: Segment[] = [];
  for (const s of segs) {
    const last = merged.at(-1);
    if (last && last.node === s.node && last.hi + 1 === s.lo) last.hi = s.hi;
    else merged.push({ ...s, weight: 0 });
  }
  // Calls of the host ABI weigh 1; those of a secondary ABI sharing the arch value (x32 next
  // to x86_64) weigh little, so the common case gets the short paths.
  const numbers = plans
    .flatMap((p) => {
      const w = plans.length > 1 && p.arch !== opts.native ? 0.01 : 1;
      return tableNumbers(p.arch).map((nr) => [nr, w] as const);
    })
    .sort((a, b) => a[0] - b[0]);
  let k = 0;
  for (const s of merged) {
    s.weight = 0.001;
    while (k < numbers.length && numbers[k]![0] <= s.hi) {
      if (numbers[k]![0] >= s.lo) s.weight += numbers[k]![1];
      k++;
    }
  }
  const tree = searchTree(d, merged);
  return tree.kind === "jmp" ? d.ld(SECCOMP_DATA.NR, tree) : tree;
}

function programRoot(d: Dag, plan: FilterPlan, opts: CodegenOptions): Node {
  const groups = new Map<number, ArchPlan[]>();
  const ordered = [...plan.arches].sort(
    (a, b) =>
      Number(b.arch.audit === opts.native.audit) - Number(a.arch.audit === opts.native.audit),
  );
  for (const p of ordered) {
    const g = groups.get(p.arch.audit) ?? [];
    g.push(p);
    groups.set(p.arch.audit, g);
  }
  let next = d.ret(opts.badArchAction);
  const entries = [...groups.entries()].reverse();
  for (const [audit, plans] of entries) {
    next = d.jmp(OP.JEQ_K, audit, archBlock(d, plans, plan.defaultAction, opts), next);
  }
  return d.ld(SECCOMP_DATA.ARCH, next);
}

// ---- layout and assembly

type Slot =
  | { kind: "node"; node: Node; farT?: boolean; farF?: boolean }
  | { kind: "ja"; target: Node }
  | { kind: "ret-copy"; k: number };

/** Orders nodes so every jump goes forward and each `ld`/`and` is followed by its successor. */
function layout(root: Node): Slot[] {
  // Reverse post-order of an iterative DFS: every node comes before its successors, and the
  // successor visited last (the `next` of an ld/and) lands right after it unless shared.
  const order: Node[] = [];
  const seen = new Set<number>([root.id]);
  const stack: Array<{ node: Node; stage: number }> = [{ node: root, stage: 0 }];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const n = top.node;
    const kids = n.kind === "jmp" ? [n.jf, n.jt] : n.kind === "ret" ? [] : [n.next];
    if (top.stage < kids.length) {
      const kid = kids[top.stage++]!;
      if (!seen.has(kid.id)) {
        seen.add(kid.id);
        stack.push({ node: kid, stage: 0 });
      }
      continue;
    }
    order.push(n);
    stack.pop();
  }
  order.reverse();
  const slots: Slot[] = [];
  for (let i = 0; i < order.length; i++) {
    const n = order[i]!;
    slots.push({ kind: "node", node: n });
    if ((n.kind === "ld" || n.kind === "and") && order[i + 1] !== n.next) {
      slots.push(stub(n.next));
    }
  }
  return slots;
}

function stub(target: Node): Slot {
  return target.kind === "ret" ? { kind: "ret-copy", k: target.k } : { kind: "ja", target };
}

function positions(slots: Slot[]): Map<number, number> {
  const pos = new Map<number, number>();
  slots.forEach((s, i) => {
    if (s.kind === "node") pos.set(s.node.id, i);
  });
  return pos;
}

/**
 * Gives every conditional jump whose target is more than 255 instructions away a stub right
 * after it (a copy of the `ret`, or a `ja`), repeating until every offset fits. A jump's
 * stubs sit right after it, jt's first; nothing falls through into a jump's successor slot,
 * so inserting there is safe.
 */
function fixFarJumps(slots: Slot[]): Slot[] {
  let list = slots;
  for (;;) {
    const pos = positions(list);
    let changed = false;
    const out: Slot[] = [];
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      out.push(s);
      if (s.kind !== "node" || s.node.kind !== "jmp") continue;
      const n = s.node;
      const wasT = s.farT === true;
      const wasF = s.farF === true;
      const farT = wasT || pos.get(n.jt.id)! - i - 1 > 255;
      const farF = wasF || pos.get(n.jf.id)! - i - 1 > 255;
      if (farT === wasT && farF === wasF) continue;
      changed = true;
      s.farT = farT;
      s.farF = farF;
      if (farT) out.push(stub(n.jt));
      if (farF) out.push(stub(n.jf));
      // Drop the stubs this jump already had: they were rebuilt above.
      i += (wasT ? 1 : 0) + (wasF ? 1 : 0);
    }
    list = out;
    if (!changed) return list;
  }
}

function emit(slots: Slot[]): Insn[] {
  const pos = positions(slots);
  return slots.map((s, i): Insn => {
    if (s.kind === "ret-copy") return { code: OP.RET_K, jt: 0, jf: 0, k: s.k };
    if (s.kind === "ja") return { code: OP.JA, jt: 0, jf: 0, k: pos.get(s.target.id)! - i - 1 };
    const n = s.node;
    if (n.kind === "ret") return { code: OP.RET_K, jt: 0, jf: 0, k: n.k };
    if (n.kind === "ld") return { code: OP.LD_ABS, jt: 0, jf: 0, k: n.off };
    if (n.kind === "and") return { code: OP.ALU_AND_K, jt: 0, jf: 0, k: n.k };
    const jt = s.farT ? 0 : pos.get(n.jt.id)! - i - 1;
    const jf = s.farF ? (s.farT ? 1 : 0) : pos.get(n.jf.id)! - i - 1;
    return { code: n.op, jt, jf, k: n.k };
  });
}

/** The BPF program for a plan; throws FilterTooLargeError past BPF_MAXINSNS. */
export function generate(plan: FilterPlan, opts: CodegenOptions): Insn[] {
  const d = new Dag(BPF_MAXINSNS * 16);
  const root = programRoot(d, plan, opts);
  const insns = emit(fixFarJumps(layout(root)));
  if (insns.length > BPF_MAXINSNS) {
    throw new FilterTooLargeError(
      `the compiled filter has ${insns.length} instructions; the kernel accepts at most ${BPF_MAXINSNS} (BPF_MAXINSNS)`,
    );
  }
  return insns;
}
