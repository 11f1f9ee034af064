import assert from "node:assert/strict";
import { test } from "node:test";
import { HoodError } from "../../../src/errors.ts";
import { compileSeccomp, validateSeccomp } from "../../../src/seccomp/index.ts";
import { parseProfileJson } from "../../../src/seccomp/json.ts";

test("every problem is reported with its JSON path", () => {
  const problems = validateSeccomp({
    defaultAction: "SCMP_ACT_BOGUS",
    architectures: ["SCMP_ARCH_VAX", 3],
    flags: ["SECCOMP_FILTER_FLAG_NOPE"],
    syscalls: [
      { names: "read", action: "SCMP_ACT_ALLOW" },
      {
        names: ["write"],
        action: "SCMP_ACT_ALLOW",
        errnoRet: 5,
        args: [{ index: 6, value: -1, op: "SCMP_CMP_XX" }],
      },
      { names: [], action: "SCMP_ACT_NOTIFY" },
      "nope",
    ],
  });
  const expected = [
    "linux.seccomp.defaultAction: unknown action",
    "linux.seccomp.architectures[0]: unknown architecture",
    "linux.seccomp.architectures[1]: must be a string",
    "linux.seccomp.flags[0]: unknown flag",
    "linux.seccomp.syscalls[0].names: must be an array of strings",
    "linux.seccomp.syscalls[1].errnoRet: is only meaningful",
    "linux.seccomp.syscalls[1].args[0].index: must be an argument index",
    "linux.seccomp.syscalls[1].args[0].value: must be an integer",
    "linux.seccomp.syscalls[1].args[0].op: unknown operator",
    "linux.seccomp.syscalls[2].names: must name at least one syscall",
    "linux.seccomp.syscalls[3]: must be an object",
    "linux.seccomp.listenerPath: is required when a rule uses SCMP_ACT_NOTIFY",
  ];
  for (const e of expected)
    assert.ok(
      problems.some((p) => p.startsWith(e)),
      `missing ${e} in\n${problems.join("\n")}`,
    );
});

test("compileSeccomp throws one HoodError listing all problems", () => {
  assert.throws(
    () => compileSeccomp({ defaultAction: 7, syscalls: [{ names: ["read"] }] }),
    (e: unknown) =>
      e instanceof HoodError &&
      e.code === "INVALID_SPEC" &&
      e.message.includes("linux.seccomp.defaultAction") &&
      e.message.includes("linux.seccomp.syscalls[0].action: is required"),
  );
});

test("runc's rules: no NOTIFY on write, no NOTIFY default, WAIT_KILLABLE_RECV needs a listener", () => {
  const p = validateSeccomp({
    defaultAction: "SCMP_ACT_NOTIFY",
    flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    listenerPath: "/x",
    syscalls: [{ names: ["write"], action: "SCMP_ACT_NOTIFY" }],
  });
  assert.ok(p.some((x) => x.includes("cannot be the default action")));
  assert.ok(p.some((x) => x.includes("cannot be used for the write syscall")));
  const q = validateSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
  });
  assert.ok(
    q.some((x) =>
      x.startsWith("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs"),
    ),
  );
});

test("Docker profile fields are checked too", () => {
  const p = validateSeccomp(
    {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64"],
      archMap: [{ architecture: "SCMP_ARCH_NOPE" }],
      syscalls: [
        {
          name: "read",
          names: ["write"],
          action: "SCMP_ACT_ALLOW",
          includes: { minKernel: "four" },
        },
      ],
    },
    "$",
  );
  assert.ok(p.includes(`$.archMap: cannot be used together with "architectures"`));
  assert.ok(p.some((x) => x.startsWith("$.archMap[0].architecture: unknown architecture")));
  assert.ok(p.some((x) => x.startsWith(`$.syscalls[0]: use either "name" or "names"`)));
  assert.ok(p.some((x) => x.startsWith("$.syscalls[0].includes.minKernel")));
});

test("a valid profile has no problems", () => {
  assert.deepEqual(
    validateSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [
        {
          names: ["read"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 2 ** 64, op: "SCMP_CMP_EQ" }],
        },
      ],
    }),
    [],
  );
});

test("parseProfileJson keeps uint64 values exact", () => {
  const v = parseProfileJson(
    '{"a": 18446744073709551615, "b": 12, "c": "99999999999999999999"}',
  ) as Record<string, unknown>;
  assert.equal(v.a, 18446744073709551615n);
  assert.equal(v.b, 12);
  assert.equal(v.c, "99999999999999999999");
});
