import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { HoodError } from "../../../src/errors.ts";
import {
  CAP_NAMES,
  type CapabilitySpec,
  capNumbers,
  capsAfterExec,
  decodeCaps,
  decodeSecurebits,
  displayName,
  encodeCaps,
  formatMask,
  fullMask,
  LAST_NAMED_CAP,
  lastCap,
  parseCapName,
  parseMask,
  parseProcStatus,
  planCapabilities,
  planSets,
  readProcessCaps,
} from "../../../src/linux/capabilities.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("the capability table", () => {
  test("has every capability up to CAP_CHECKPOINT_RESTORE with the kernel's numbers", () => {
    assert.equal(CAP_NAMES.length, 41);
    assert.equal(LAST_NAMED_CAP, 40);
    const expected: Record<string, number> = {
      CAP_CHOWN: 0,
      CAP_KILL: 5,
      CAP_SETPCAP: 8,
      CAP_NET_BIND_SERVICE: 10,
      CAP_NET_RAW: 13,
      CAP_SYS_ADMIN: 21,
      CAP_SYS_RESOURCE: 24,
      CAP_MKNOD: 27,
      CAP_SETFCAP: 31,
      CAP_MAC_OVERRIDE: 32,
      CAP_AUDIT_READ: 37,
      CAP_PERFMON: 38,
      CAP_BPF: 39,
      CAP_CHECKPOINT_RESTORE: 40,
    };
    for (const [name, value] of Object.entries(expected)) {
      assert.equal(CAP_NAMES.indexOf(name), value, name);
    }
  });

  test("has unique names in the OCI spelling", () => {
    assert.equal(new Set(CAP_NAMES).size, CAP_NAMES.length);
    for (const name of CAP_NAMES) assert.match(name, /^CAP_[A-Z0-9_]+$/);
  });

  test("spells names for display the way capsh does, numbers for unnamed bits", () => {
    assert.equal(displayName(0), "cap_chown");
    assert.equal(displayName(40), "cap_checkpoint_restore");
    assert.equal(displayName(41), "41");
  });
});

describe("lastCap", () => {
  test("reads the number the kernel gives", () => {
    assert.equal(
      lastCap(() => "40\n"),
      40,
    );
    assert.equal(
      lastCap(() => "37"),
      37,
    );
  });

  test("rejects a file that is not a capability number", () => {
    for (const text of ["", "abc", "-1", "64", "4 0"]) {
      assert.throws(
        () => lastCap(() => text),
        (e: unknown) => e instanceof HoodError && e.code === "BAD_PROC_FILE",
        JSON.stringify(text),
      );
    }
  });

  test("reports a read failure with the errno name", () => {
    const enoent = Object.assign(new Error("nope"), { code: "ENOENT" });
    assert.throws(
      () =>
        lastCap(() => {
          throw enoent;
        }),
      (e: unknown) =>
        e instanceof HoodError && e.code === "ENOENT" && /cap_last_cap: ENOENT/.test(e.message),
    );
  });

  test("reads the running kernel's value", () => {
    const n = lastCap();
    assert.ok(n >= 37 && n < 64, String(n));
  });
});

describe("parseCapName", () => {
  test("accepts both spellings on the command line", () => {
    assert.deepEqual(parseCapName("cap_kill"), { kind: "known", name: "CAP_KILL", value: 5 });
    assert.deepEqual(parseCapName("CAP_KILL"), { kind: "known", name: "CAP_KILL", value: 5 });
    assert.deepEqual(parseCapName("Cap_Bpf"), { kind: "known", name: "CAP_BPF", value: 39 });
  });

  test("accepts only CAP_X when strict", () => {
    assert.equal(parseCapName("CAP_KILL", { strict: true }).kind, "known");
    assert.equal(parseCapName("cap_kill", { strict: true }).kind, "malformed");
  });

  test("tells unknown names from malformed ones", () => {
    assert.deepEqual(parseCapName("CAP_FUTURE_THING", { strict: true }), {
      kind: "unknown",
      name: "CAP_FUTURE_THING",
    });
    for (const text of ["", "KILL", "CAP_", "CAP_KILL ", " CAP_KILL", "CAP-KILL", "CAP_KILL,"]) {
      const parsed = parseCapName(text);
      assert.equal(parsed.kind, "malformed", JSON.stringify(text));
      assert.ok(parsed.kind === "malformed" && parsed.reason.length > 0);
    }
  });
});

describe("encodeCaps and decodeCaps", () => {
  test("decode lists names lowest bit first, in capsh's spelling", () => {
    assert.deepEqual(decodeCaps(0x21n), ["cap_chown", "cap_kill"]);
    assert.deepEqual(decodeCaps(0n), []);
    assert.deepEqual(decodeCaps((1n << 41n) | 1n), ["cap_chown", "41"]);
    assert.deepEqual(decodeCaps(1n << 63n), ["63"]);
    assert.deepEqual(
      decodeCaps(fullMask(40)),
      CAP_NAMES.map((n) => n.toLowerCase()),
    );
  });

  test("encode takes either spelling and numbers", () => {
    assert.equal(encodeCaps(["cap_chown", "CAP_KILL"]), 0x21n);
    assert.equal(encodeCaps(["41", 0]), (1n << 41n) | 1n);
    assert.equal(encodeCaps([]), 0n);
    assert.equal(encodeCaps(["cap_kill", "cap_kill"]), 0x20n);
  });

  test("encode rejects unknown, malformed and out-of-range names", () => {
    for (const bad of ["cap_nope", "kill", "64", -1, 1.5, ""]) {
      assert.throws(
        () => encodeCaps([bad]),
        (e: unknown) => e instanceof HoodError && e.code === "INVALID_CAPABILITY",
        String(bad),
      );
    }
  });

  test("decode then encode gives back any 64-bit mask", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (mask) => {
        assert.equal(encodeCaps(decodeCaps(mask)), mask);
        assert.deepEqual(
          capNumbers(mask).map((n) => 1n << BigInt(n)),
          range(64)
            .filter((n) => (mask >> BigInt(n)) & 1n)
            .map((n) => 1n << BigInt(n)),
        );
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  test("rejects masks that are negative or wider than 64 bits", () => {
    assert.throws(() => decodeCaps(-1n), HoodError);
    assert.throws(() => decodeCaps(1n << 64n), HoodError);
    assert.throws(() => formatMask(1n << 64n), HoodError);
  });
});

describe("formatMask and parseMask", () => {
  test("format like capsh: 0x and 16 hex digits", () => {
    assert.equal(formatMask(0n), "0x0000000000000000");
    assert.equal(formatMask(0xa80425fbn), "0x00000000a80425fb");
    assert.equal(formatMask((1n << 64n) - 1n), "0xffffffffffffffff");
  });

  test("parse hex with or without 0x, as /proc and capsh write it", () => {
    assert.equal(parseMask("000001ffffffffff"), 0x1ffffffffffn);
    assert.equal(parseMask("0x21"), 0x21n);
    assert.equal(parseMask("0XA80425FB"), 0xa80425fbn);
    assert.equal(parseMask(" 0x1\n"), 1n);
  });

  test("refuse what is not a mask instead of reading it as 0", () => {
    for (const text of ["", "0x", "zz", "0x1g", "-1", "1_0", "0x10000000000000000"]) {
      assert.throws(() => parseMask(text), HoodError, JSON.stringify(text));
    }
  });
});

test("decodeSecurebits names the flags", () => {
  assert.deepEqual(decodeSecurebits(0), []);
  assert.deepEqual(decodeSecurebits(0x10), ["keep_caps"]);
  assert.deepEqual(decodeSecurebits(0x2f), [
    "noroot",
    "noroot_locked",
    "no_setuid_fixup",
    "no_setuid_fixup_locked",
    "keep_caps_locked",
  ]);
  assert.deepEqual(decodeSecurebits(1 << 20), ["20"]);
});

const STATUS = `Name:\tsleep
Umask:\t0022
State:\tS (sleeping)
Uid:\t65534\t65534\t65534\t65534
Gid:\t65534\t65534\t65534\t65534
CapInh:\t0000000000000400
CapPrm:\t0000000000000400
CapEff:\t0000000000000400
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000400
NoNewPrivs:\t1
Seccomp:\t2
Seccomp_filters:\t3
Speculation_Store_Bypass:\tthread vulnerable
`;

describe("parseProcStatus", () => {
  test("reads the five sets, no_new_privs and seccomp", () => {
    assert.deepEqual(parseProcStatus(STATUS), {
      name: "sleep",
      uids: [65534, 65534, 65534, 65534],
      effective: 0x400n,
      permitted: 0x400n,
      inheritable: 0x400n,
      bounding: 0x1fffeffffffn,
      ambient: 0x400n,
      noNewPrivs: true,
      seccomp: "filter",
      seccompFilters: 3,
    });
  });

  test("reports the optional lines as null when the kernel does not print them", () => {
    const old = STATUS.split("\n")
      .filter((l) => !/^(Seccomp|Seccomp_filters|Name|Uid):/.test(l))
      .join("\n");
    const parsed = parseProcStatus(old);
    assert.equal(parsed.seccomp, null);
    assert.equal(parsed.seccompFilters, null);
    assert.equal(parsed.name, null);
    assert.equal(parsed.uids, null);
  });

  test("refuses a status without a capability line or with a bad mask", () => {
    const noAmb = STATUS.replace(/^CapAmb:.*\n/m, "");
    assert.throws(() => parseProcStatus(noAmb, "/proc/9/status"), /\/proc\/9\/status: no CapAmb/);
    assert.throws(() => parseProcStatus(STATUS.replace("0000000000000400", "xyz")), /not a hex/);
    assert.throws(() => parseProcStatus(STATUS.replace("Seccomp:\t2", "Seccomp:\t7")), /Seccomp/);
  });
});

describe("readProcessCaps", () => {
  const proc = mkdtempSync(join(tmpdir(), "hood-caps-"));
  after(() => rmSync(proc, { recursive: true, force: true }));
  const fake = (pid: number, text: string) => {
    mkdirSync(join(proc, String(pid)), { recursive: true });
    writeFileSync(join(proc, String(pid), "status"), text);
  };

  test("reads another process and says why securebits are unknown", () => {
    fake(4242, STATUS);
    const caps = readProcessCaps(4242, { proc, selfSecurebits: () => 0x10 });
    assert.equal(caps.pid, 4242);
    assert.equal(caps.ambient, 0x400n);
    assert.equal(caps.securebits, null);
    assert.match(caps.securebitsNote ?? "", /only to the process itself/);
  });

  test("reads securebits for the calling process when given a reader", () => {
    fake(process.pid, STATUS);
    const caps = readProcessCaps(process.pid, { proc, selfSecurebits: () => 0x10 });
    assert.equal(caps.securebits, 0x10);
    assert.equal(caps.securebitsNote, undefined);
  });

  test("reports a missing process as ESRCH", () => {
    assert.throws(
      () => readProcessCaps(99999999, { proc }),
      (e: unknown) =>
        e instanceof HoodError && e.code === "ESRCH" && /pid 99999999/.test(e.message),
    );
    assert.throws(() => readProcessCaps(0, { proc }), HoodError);
    assert.throws(() => readProcessCaps(-3, { proc }), HoodError);
  });
});

/** The capabilities docker and `runc spec` give a container by default. */
const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const opts = { lastCap: 40, changesUid: false };

describe("planCapabilities", () => {
  test("an empty object drops everything, as runc does with empty sets", () => {
    const plan = planCapabilities({}, opts);
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.warnings, []);
    assert.deepEqual(plan.boundingDrop, range(41));
    assert.equal(plan.bounding, 0n);
    assert.equal(plan.effective, 0n);
    assert.equal(plan.permitted, 0n);
    assert.equal(plan.inheritable, 0n);
    assert.deepEqual(plan.ambient, []);
    assert.equal(plan.keepCaps, false);
  });

  test("empty lists are the same as missing ones", () => {
    const empty = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
    assert.deepEqual(planCapabilities(empty, opts), planCapabilities({}, opts));
  });

  test("the full set in every list keeps everything", () => {
    const all = CAP_NAMES.slice();
    const spec = { bounding: all, effective: all, inheritable: all, permitted: all, ambient: all };
    const plan = planCapabilities(spec, opts);
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.warnings, []);
    assert.deepEqual(plan.boundingDrop, []);
    for (const set of ["bounding", "effective", "permitted", "inheritable"] as const) {
      assert.equal(plan[set], 0x1ffffffffffn, set);
    }
    assert.deepEqual(plan.ambient, range(41));
  });

  test("the default container set gives docker's well-known bounding mask", () => {
    const spec = { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS };
    const plan = planCapabilities(spec, opts);
    assert.deepEqual(plan.problems, []);
    assert.equal(plan.bounding, 0xa80425fbn);
    assert.equal(plan.effective, 0xa80425fbn);
    assert.equal(plan.permitted, 0xa80425fbn);
    // CVE-2022-29162: nothing is inheritable unless the spec says so.
    assert.equal(plan.inheritable, 0n);
    assert.equal(plan.boundingDrop.length, 41 - DEFAULT_CAPS.length);
    assert.ok(!plan.boundingDrop.includes(0) && plan.boundingDrop.includes(21));
  });

  test("raises only ambient caps that are permitted and inheritable, warning about the rest", () => {
    const plan = planCapabilities(
      {
        bounding: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"],
        permitted: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        inheritable: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        ambient: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
      },
      opts,
    );
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.ambient, [10]);
    assert.equal(plan.warnings.length, 2);
    assert.match(plan.warnings[0]!, /ambient capability CAP_KILL: it is not permitted\b/);
    assert.match(plan.warnings[1]!, /ambient capability CAP_CHOWN: it is not inheritable/);
  });

  test("warns and skips a name the running kernel cannot map, naming it once", () => {
    const plan = planCapabilities(
      {
        bounding: ["CAP_CHOWN", "CAP_FROB", "CAP_CHECKPOINT_RESTORE"],
        permitted: ["CAP_FROB", "CAP_CHOWN", "CAP_FROB"],
        effective: ["CAP_CHECKPOINT_RESTORE"],
      },
      { lastCap: 39, changesUid: false },
    );
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.warnings, [
      "ignoring capability CAP_FROB (in bounding, permitted): not a capability hood knows",
      "ignoring capability CAP_CHECKPOINT_RESTORE (in bounding, effective): the running kernel does not support it (cap_last_cap is 39)",
    ]);
    assert.equal(plan.bounding, 1n);
    assert.equal(plan.permitted, 1n);
    assert.equal(plan.effective, 0n);
    // An older kernel has no cap 40 to drop.
    assert.deepEqual(plan.boundingDrop, range(40).slice(1));
  });

  test("warns and skips what a runtime in a restricted environment cannot grant", () => {
    const sysResource = 1n << 24n;
    const netAdmin = 1n << 12n;
    const holder = { bounding: fullMask(40) & ~sysResource, permitted: fullMask(40) & ~netAdmin };
    const both = ["CAP_SYS_RESOURCE", "CAP_NET_ADMIN", "CAP_CHOWN"];
    const plan = planCapabilities(
      { bounding: both, permitted: both, effective: both, inheritable: both, ambient: both },
      { lastCap: 40, changesUid: false, holder },
    );
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(plan.warnings, [
      "ignoring capability CAP_SYS_RESOURCE (in bounding, inheritable, ambient): it cannot be granted: the runtime does not hold it",
      "ignoring capability CAP_NET_ADMIN (in effective, inheritable, permitted, ambient): it cannot be granted: the runtime does not hold it",
    ]);
    // A bounding cap the holder has but does not hold as permitted stays in the bounding set:
    // a root process regains it at execve.
    assert.equal(plan.bounding, netAdmin | 1n);
    assert.equal(plan.permitted, sysResource | 1n);
    assert.equal(plan.effective, sysResource | 1n);
    assert.equal(plan.inheritable, 1n);
    assert.deepEqual(plan.ambient, [0]);
    assert.ok(plan.boundingDrop.includes(24) && !plan.boundingDrop.includes(12));
  });

  test("reports malformed names as problems with their JSON paths", () => {
    const spec = {
      bounding: ["cap_chown", "CAP_KILL", "KILL"],
      effective: [42],
      ambient: "CAP_KILL",
    } as unknown as CapabilitySpec;
    const plan = planCapabilities(spec, opts);
    assert.deepEqual(
      plan.problems.map((p) => p.path),
      [
        "process.capabilities.bounding[0]",
        "process.capabilities.bounding[2]",
        "process.capabilities.effective[0]",
        "process.capabilities.ambient",
      ],
    );
    assert.match(plan.problems[0]!.message, /malformed capability name "cap_chown"/);
    assert.equal(plan.bounding, 0x20n);
  });

  test("reports sets the kernel would refuse at capset", () => {
    const plan = planCapabilities(
      {
        bounding: ["CAP_CHOWN"],
        permitted: ["CAP_CHOWN"],
        effective: ["CAP_CHOWN", "CAP_KILL"],
        inheritable: ["CAP_NET_RAW"],
      },
      opts,
    );
    assert.deepEqual(plan.problems, [
      {
        path: "process.capabilities.effective[1]",
        message:
          "CAP_KILL is effective but not permitted: the kernel refuses an effective capability that is not permitted (capset: EPERM)",
      },
      {
        path: "process.capabilities.inheritable[0]",
        message:
          "CAP_NET_RAW is inheritable but not in the bounding set: the kernel refuses it (capset: EPERM)",
      },
    ]);
  });

  test("holds keep-caps only when the uid changes", () => {
    assert.equal(planCapabilities({}, { lastCap: 40, changesUid: true }).keepCaps, true);
    assert.equal(planCapabilities({}, { lastCap: 40, changesUid: false }).keepCaps, false);
  });

  test("the sets never leave the kernel's invariants", () => {
    const name = fc.constantFrom(...CAP_NAMES, "CAP_FROB");
    const list = fc.array(name, { maxLength: 12 });
    fc.assert(
      fc.property(
        fc.record({
          bounding: list,
          effective: list,
          inheritable: list,
          permitted: list,
          ambient: list,
        }),
        fc.integer({ min: 37, max: 40 }),
        fc.option(
          fc.record({
            bounding: fc.bigInt({ min: 0n, max: fullMask(40) }),
            permitted: fc.bigInt({ min: 0n, max: fullMask(40) }),
          }),
          { nil: undefined },
        ),
        (spec, last, holder) => {
          const plan = planCapabilities(spec, { lastCap: last, changesUid: true, holder });
          const valid = fullMask(last);
          const sets = planSets(plan);
          if (holder) {
            assert.equal(sets.bounding & ~holder.bounding, 0n);
            assert.equal(sets.permitted & ~holder.permitted, 0n);
            assert.equal(sets.effective & ~holder.permitted, 0n);
            assert.equal(sets.inheritable & ~(holder.bounding & holder.permitted), 0n);
          }
          for (const mask of Object.values(sets)) assert.equal(mask & ~valid, 0n);
          assert.equal(sets.ambient & ~(sets.permitted & sets.inheritable), 0n);
          assert.equal(encodeCaps(plan.boundingDrop) | plan.bounding, valid);
          assert.equal(encodeCaps(plan.boundingDrop) & plan.bounding, 0n);
          if (plan.problems.length === 0) {
            assert.equal(sets.effective & ~sets.permitted, 0n);
            assert.equal(sets.inheritable & ~sets.bounding, 0n);
          }
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe("capsAfterExec", () => {
  const before = {
    bounding: 0xa80425fbn,
    permitted: 0x1n,
    effective: 0x1n,
    inheritable: 0x400n,
    ambient: 0x400n,
  };

  test("root gets its bounding and inheritable sets back as permitted and effective", () => {
    const after = capsAfterExec(before, { uid: 0 });
    assert.equal(after.permitted, 0xa80425fbn | 0x400n);
    assert.equal(after.effective, after.permitted);
    assert.equal(after.inheritable, 0x400n);
    assert.equal(after.bounding, 0xa80425fbn);
    assert.equal(after.ambient, 0x400n);
  });

  test("a non-root process keeps only its ambient caps", () => {
    const after = capsAfterExec(before, { uid: 1000 });
    assert.equal(after.permitted, 0x400n);
    assert.equal(after.effective, 0x400n);
    assert.equal(after.ambient, 0x400n);
  });

  test("a real uid of 0 alone gives permitted but not effective", () => {
    const after = capsAfterExec(before, { uid: 0, euid: 1000 });
    assert.equal(after.permitted, 0xa80425fbn | 0x400n);
    assert.equal(after.effective, 0x400n);
  });

  test("SECBIT_NOROOT makes root like any other uid", () => {
    const after = capsAfterExec(before, { uid: 0, noRoot: true });
    assert.equal(after.permitted, 0x400n);
    assert.equal(after.effective, 0x400n);
  });
});
