import assert from "node:assert/strict";
import { test } from "node:test";
import { HoodError } from "../../../src/errors.ts";
import { findArch } from "../../../src/seccomp/arches.ts";
import { compileSeccomp } from "../../../src/seccomp/index.ts";

const names = [...findArch("x86_64")!.syscalls.keys()];

function clearError(f: () => unknown, code: string): void {
  assert.throws(
    f,
    (e: unknown) => e instanceof HoodError && e.code === code && e.message.length < 20000,
  );
}

test("a huge rule count gives a clear error, not a filter longer than BPF_MAXINSNS", () => {
  const syscalls: unknown[] = [];
  for (let i = 0; i < 20000; i++) {
    syscalls.push({
      names: [names[i % names.length]!],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: i % 6, value: i, op: "SCMP_CMP_EQ" }],
    });
  }
  const t0 = Date.now();
  clearError(
    () => compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls }, { arch: "x86_64" }),
    "SECCOMP_TOO_LARGE",
  );
  assert.ok(Date.now() - t0 < 10000);
});

test("a deep argument list gives a clear error", () => {
  const args = Array.from({ length: 50000 }, (_, i) => ({ index: 0, value: i, op: "SCMP_CMP_EQ" }));
  clearError(
    () =>
      compileSeccomp(
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args }],
        },
        { arch: "x86_64" },
      ),
    "SECCOMP_TOO_LARGE",
  );
});

test("wrong types anywhere give INVALID_SPEC, never a crash", () => {
  const bad: unknown[] = [
    null,
    42,
    "profile",
    [],
    { defaultAction: null },
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: {} },
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: [null] },
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [null], action: "SCMP_ACT_ALLOW" }] },
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: [null] }],
    },
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", args: "x" }],
    },
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        {
          names: ["read"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 1.5, op: "SCMP_CMP_EQ" }],
        },
      ],
    },
    { defaultAction: "SCMP_ACT_ALLOW", architectures: "SCMP_ARCH_X86_64" },
    { defaultAction: "SCMP_ACT_ALLOW", archMap: [null] },
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { caps: "x" } }],
    },
    { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 },
  ];
  for (const spec of bad)
    clearError(() => compileSeccomp(spec, { arch: "x86_64" }), "INVALID_SPEC");
});
