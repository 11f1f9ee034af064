import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  DeviceEmulator,
  type DeviceRule,
  deviceProgram,
  encodeProgram,
  type Insn,
  OP,
  ruleText,
} from "../../../src/linux/device-filter.ts";
import { deviceRules } from "../../../src/runtime/resources.ts";

const rule = (text: string, allow = true): DeviceRule => {
  const [type, nums, access] = text.split(" ") as [DeviceRule["type"], string, string];
  const [ma, mi] = nums.split(":");
  const n = (x?: string) => (x === "*" ? -1 : Number(x));
  return { allow, type, major: n(ma), minor: n(mi), access };
};

/** The v1 kernel's decision for one access (devcgroup's match_exception and its partial form). */
function kernelAllows(
  e: DeviceEmulator,
  type: "b" | "c",
  major: number,
  minor: number,
  access: string,
): boolean {
  const hits = [...e.exceptions].filter(([k]) => {
    const [t, ma, mi] = k.split(" ");
    return (
      t === type && (ma === "-1" || Number(ma) === major) && (mi === "-1" || Number(mi) === minor)
    );
  });
  if (e.defaultAllow) {
    return !hits.some(([, a]) => [...access].some((c) => a.includes(c)));
  }
  return hits.some(([, a]) => [...access].every((c) => a.includes(c)));
}

/** Just enough of an eBPF interpreter for the device programs hood generates. */
function runProgram(
  insns: readonly Insn[],
  accessType: number,
  major: number,
  minor: number,
): number {
  const r = new Array<number>(11).fill(0);
  const ctx = [accessType >>> 0, major >>> 0, minor >>> 0];
  for (let pc = 0, steps = 0; pc < insns.length && steps < 10_000; pc++, steps++) {
    const i = insns[pc]!;
    switch (i.op) {
      case OP.LDXW:
        assert.equal(i.src, 1, "loads only from the context");
        r[i.dst] = ctx[i.off / 4]!;
        break;
      case OP.AND32_K:
        r[i.dst] = (r[i.dst]! & i.imm) >>> 0;
        break;
      case OP.RSH32_K:
        r[i.dst] = r[i.dst]! >>> i.imm;
        break;
      case OP.MOV32_K:
        r[i.dst] = i.imm >>> 0;
        break;
      case OP.MOV32_X:
        r[i.dst] = r[i.src]! >>> 0;
        break;
      case OP.JNE_K:
        if (r[i.dst] !== i.imm >>> 0) pc += i.off;
        break;
      case OP.JEQ_K:
        if (r[i.dst] === i.imm >>> 0) pc += i.off;
        break;
      case OP.JNE_X:
        if (r[i.dst] !== r[i.src]) pc += i.off;
        break;
      case OP.EXIT:
        return r[0]!;
      default:
        throw new Error(`unknown opcode ${i.op}`);
    }
  }
  throw new Error("the program ran off its end");
}

const ACCESS_BITS: Record<string, number> = { m: 1, r: 2, w: 4 };
function bpfAllows(
  p: readonly Insn[],
  type: "b" | "c",
  major: number,
  minor: number,
  access: string,
) {
  const bits = [...access].reduce((n, c) => n | ACCESS_BITS[c]!, 0);
  return runProgram(p, (type === "b" ? 1 : 2) | (bits << 16), major, minor) === 1;
}

describe("device rules: the v1 emulator", () => {
  it("turns runc's default rules into the list the kernel shows", () => {
    const e = DeviceEmulator.fromRules(deviceRules([{ allow: false, access: "rwm" }]));
    assert.deepEqual(e.list(), [
      "b *:* m",
      "c *:* m",
      "c 1:3 rwm",
      "c 1:5 rwm",
      "c 1:7 rwm",
      "c 1:8 rwm",
      "c 1:9 rwm",
      "c 5:0 rwm",
      "c 5:2 rwm",
      "c 136:* rwm",
    ]);
  });

  it("reads devices.list back into the same state", () => {
    const e = DeviceEmulator.fromRules(deviceRules(undefined));
    assert.ok(DeviceEmulator.fromList(e.list().join("\n")).equals(e));
    assert.equal(DeviceEmulator.fromList("a *:* rwm\n").defaultAllow, true);
  });

  it("narrows and widens exact exceptions", () => {
    const e = DeviceEmulator.fromRules([
      rule("a *:* rwm", false),
      rule("c 1:3 rwm"),
      rule("c 1:3 w", false),
      rule("c 4:1 r"),
      rule("c 4:1 w"),
    ]);
    assert.deepEqual(e.list(), ["c 1:3 rm", "c 4:1 rw"]);
  });

  it("refuses to punch a hole in a wildcard exception (the kernel would ignore it)", () => {
    assert.throws(
      () => DeviceEmulator.fromRules([rule("c *:* rwm"), rule("c 1:3 w", false)]),
      /cannot narrow the wider rule "c \*:\* rwm"/,
    );
  });

  it("moves from allow-all with the disruptive rule first", () => {
    const target = DeviceEmulator.fromRules(deviceRules(undefined));
    const t = DeviceEmulator.fromList("a *:* rwm").transition(target);
    assert.equal(ruleText(t[0]!), "a *:* rwm");
    assert.equal(t[0]!.allow, false);
    assert.equal(t.length, 1 + target.exceptions.size);
  });

  it("moves between two allow-lists by writing only the differences", () => {
    const from = DeviceEmulator.fromRules([rule("c 1:3 rwm"), rule("c 1:5 rwm"), rule("b 8:0 r")]);
    const to = DeviceEmulator.fromRules([rule("c 1:3 rwm"), rule("c 1:5 r"), rule("b 8:1 r")]);
    const t = from.transition(to).map((r) => `${r.allow ? "allow" : "deny"} ${ruleText(r)}`);
    assert.deepEqual(t, ["deny b 8:0 r", "deny c 1:5 wm", "allow b 8:1 r"]);
    // Applying the transition to the source gives the target.
    for (const r of from.transition(to)) from.apply(r);
    assert.ok(from.equals(to));
  });

  it("drops access a wider exception of the target keeps (regression: seed 1749786661)", () => {
    const from = DeviceEmulator.fromRules([
      rule("a *:* rwm", false),
      rule("b 8:* wm"),
      rule("b *:* rw"),
    ]);
    const to = DeviceEmulator.fromRules([rule("a *:* rwm", false), rule("b *:* w")]);
    const state = DeviceEmulator.fromList(from.list().join("\n"));
    const t = state.transition(to);
    assert.deepEqual(
      t.map((r) => `${r.allow ? "allow" : "deny"} ${ruleText(r)}`),
      ["deny b *:* r", "deny b 8:* wm"],
    );
    // The kernel's dev_exception_rm edits only "b 8:*", even though "b *:* w" still grants w.
    for (const r of t) state.apply(r);
    assert.deepEqual(state.list(), ["b *:* w"]);
    assert.ok(state.equals(to));
  });

  it("applies a single write as the kernel does, but refuses the same hole in a config", () => {
    const e = DeviceEmulator.fromList("c *:* rw\nc 1:3 rwm");
    e.apply(rule("c 1:3 w", false));
    assert.deepEqual(e.list(), ["c *:* rw", "c 1:3 rm"]);
    assert.throws(
      () => DeviceEmulator.fromRules([rule("c *:* rw"), rule("c 1:3 rwm"), rule("c 1:3 w", false)]),
      /cannot narrow the wider rule "c \*:\* rw"/,
    );
  });

  it("any transition lands on its target (property)", () => {
    const ruleArb = fc.record({
      allow: fc.boolean(),
      type: fc.constantFrom("b" as const, "c" as const),
      major: fc.constantFrom(-1, 1, 5, 8),
      minor: fc.constantFrom(-1, 0, 3),
      access: fc.constantFrom("r", "w", "m", "rw", "rwm", "wm"),
    });
    const listArb = fc.tuple(fc.boolean(), fc.array(ruleArb, { maxLength: 8 }));
    fc.assert(
      fc.property(listArb, listArb, ([allowA, a], [allowB, b]) => {
        const build = (allowAll: boolean, rules: DeviceRule[]) => {
          try {
            return DeviceEmulator.fromRules([rule("a *:* rwm", allowAll), ...rules]);
          } catch {
            return null;
          }
        };
        const from = build(allowA, a);
        const to = build(allowB, b);
        if (!from || !to || from.defaultAllow) return;
        const state = DeviceEmulator.fromList(from.list().join("\n"));
        for (const r of state.transition(to)) state.apply(r);
        assert.ok(state.equals(to));
      }),
      // A fixed seed keeps CI deterministic; the many runs keep the search wide.
      { seed: 1749786661, numRuns: 2000 },
    );
  });
});

describe("device rules: the cgroup v2 eBPF program", () => {
  const probes: ["b" | "c", number, number][] = [
    ["c", 1, 3],
    ["c", 1, 5],
    ["c", 5, 2],
    ["c", 136, 7],
    ["c", 10, 200],
    ["b", 8, 0],
    ["b", 254, 0],
  ];
  const accesses = ["r", "w", "m", "rw", "rwm"];

  it("decides every access as the v1 controller would, for runc's default rules", () => {
    const rules = deviceRules([{ allow: false, access: "rwm" }]);
    const e = DeviceEmulator.fromRules(rules);
    const p = deviceProgram(rules);
    for (const [t, ma, mi] of probes) {
      for (const a of accesses) {
        assert.equal(
          bpfAllows(p, t, ma, mi, a),
          kernelAllows(e, t, ma, mi, a),
          `${t} ${ma}:${mi} ${a}`,
        );
      }
    }
    assert.equal(bpfAllows(p, "c", 1, 3, "rw"), true);
    assert.equal(bpfAllows(p, "b", 8, 0, "r"), false);
    assert.equal(bpfAllows(p, "b", 8, 0, "m"), true);
  });

  it("in an allow-all program, a deny exception blocks any access it covers", () => {
    const rules = [rule("a *:* rwm"), rule("c 1:3 w", false)];
    const p = deviceProgram(rules);
    assert.equal(bpfAllows(p, "c", 1, 3, "r"), true);
    assert.equal(bpfAllows(p, "c", 1, 3, "rw"), false);
    assert.equal(bpfAllows(p, "c", 1, 5, "rw"), true);
  });

  it("agrees with the v1 decision for random rule lists (property)", () => {
    const ruleArb = fc.record({
      allow: fc.boolean(),
      type: fc.constantFrom("a" as const, "b" as const, "c" as const),
      major: fc.constantFrom(-1, 1, 5, 8),
      minor: fc.constantFrom(-1, 0, 3, 5),
      access: fc.constantFrom("r", "w", "m", "rw", "rm", "rwm"),
    });
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 10 }), (rules) => {
        let e: DeviceEmulator;
        try {
          e = DeviceEmulator.fromRules(rules);
        } catch {
          return;
        }
        const p = deviceProgram(rules);
        for (const [t, ma, mi] of [
          ...probes,
          ["c", 8, 5] as ["c", number, number],
          ["b", 1, 0] as ["b", number, number],
        ]) {
          for (const a of accesses) {
            assert.equal(bpfAllows(p, t, ma, mi, a), kernelAllows(e, t, ma, mi, a));
          }
        }
      }),
      { seed: 1749786661, numRuns: 1000 },
    );
  });

  it("encodes instructions as the kernel reads them", () => {
    const buf = encodeProgram([{ op: OP.JNE_K, dst: 4, src: 0, off: 3, imm: 136 }]);
    assert.deepEqual([...buf], [0x55, 0x04, 3, 0, 136, 0, 0, 0]);
    const ld = encodeProgram([{ op: OP.LDXW, dst: 5, src: 1, off: 8, imm: 0 }]);
    assert.deepEqual([...ld], [0x61, 0x15, 8, 0, 0, 0, 0, 0]);
  });

  it("ends with the default verdict and never jumps past its end", () => {
    for (const rules of [deviceRules(undefined), [rule("a *:* rwm"), rule("b 8:0 rwm", false)]]) {
      const p = deviceProgram(rules);
      assert.equal(p.at(-1)!.op, OP.EXIT);
      p.forEach((i, pc) => {
        if ([OP.JNE_K, OP.JNE_X, OP.JEQ_K].includes(i.op as 0x55)) {
          assert.ok(pc + 1 + i.off < p.length && i.off >= 0);
        }
      });
    }
  });
});
