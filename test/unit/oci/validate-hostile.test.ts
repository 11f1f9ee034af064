import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatProblems, validateSpec } from "../../../src/oci/validate.ts";
import { baseSpec, edit } from "./edit-spec.ts";

const PATHS = [
  "ociVersion",
  "process",
  "process.user",
  "process.args",
  "process.args[0]",
  "process.capabilities.bounding",
  "process.rlimits[0]",
  "process.scheduler",
  "root",
  "mounts",
  "mounts[2].options",
  "hooks",
  "hooks.poststart",
  "annotations",
  "linux",
  "linux.namespaces",
  "linux.namespaces[0]",
  "linux.uidMappings",
  "linux.sysctl",
  "linux.resources",
  "linux.resources.devices[0]",
  "linux.seccomp",
  "linux.timeOffsets",
  "linux.netDevices",
];

test("never throws on arbitrary JSON", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (doc) => {
      const v = validateSpec(doc);
      assert.ok(Array.isArray(v.problems));
      formatProblems(v.problems);
    }),
    { numRuns: 300 },
  );
});

test("never throws when any part of a valid config is replaced by arbitrary JSON", () => {
  fc.assert(
    fc.property(fc.constantFrom(...PATHS), fc.jsonValue(), (path, value) => {
      const v = validateSpec(edit(baseSpec(), { [path]: value }));
      for (const p of v.problems) {
        assert.equal(typeof p.path, "string");
        assert.ok(p.message.length > 0 && p.message.length < 400, p.message);
      }
    }),
    { numRuns: 500 },
  );
});

test("a huge hostile value is quoted shortened in messages", () => {
  const v = validateSpec(edit(baseSpec(), { "process.cwd": "x".repeat(100_000) }));
  assert.equal(v.problems.length, 1);
  assert.ok(v.problems[0]!.message.length < 200);
});

test("a deeply nested document is reported, not a stack overflow", () => {
  const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
  for (const path of ["annotations", "process.args", "linux.resources.unified", "windows"]) {
    const v = validateSpec(edit(baseSpec(), { [path]: deep }));
    assert.ok(path === "windows" ? v.problems.length === 0 : v.problems.length === 1, path);
  }
});
