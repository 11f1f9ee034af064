import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { main } from "../../../src/cli/spec.ts";
import type { HoodError } from "../../../src/errors.ts";
import { defaultSpec } from "../../../src/oci/defaults.ts";
import { validateSpec } from "../../../src/oci/validate.ts";

const base = mkdtempSync(join(tmpdir(), "hood-spec-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const bundle = () => mkdtempSync(join(base, `b${n++}-`));

test("writes runc's default config.json into --bundle, tab-indented, no trailing newline", async () => {
  const dir = bundle();
  assert.equal(await main(["--bundle", dir]), 0);
  const text = readFileSync(join(dir, "config.json"), "utf8");
  assert.ok(text.startsWith('{\n\t"ociVersion": "1.0.2-dev",'));
  assert.ok(text.endsWith("}"));
  const spec = JSON.parse(text);
  assert.deepEqual(spec.process, defaultSpec().process);
  assert.deepEqual(validateSpec(spec).problems, []);
});

test("the file mode is 0666 less the umask, as with runc", async () => {
  const dir = bundle();
  const old = process.umask(0o027);
  try {
    await main(["-b", dir]);
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, "config.json")).mode & 0o777, 0o640);
});

test("--rootless writes the rootless variant", async () => {
  const dir = bundle();
  await main(["-b", dir, "--rootless"]);
  const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.equal(spec.linux.namespaces.at(-1).type, "user");
  assert.equal(spec.linux.uidMappings[0].hostID, process.geteuid!());
});

test("refuses to overwrite a config.json, with runc's message", async () => {
  const dir = bundle();
  writeFileSync(join(dir, "config.json"), "mine");
  await assert.rejects(main(["-b", dir]), (e: HoodError) => {
    assert.equal(e.message, "File config.json exists. Remove it first");
    return true;
  });
  assert.equal(readFileSync(join(dir, "config.json"), "utf8"), "mine");
});

test("refuses a dangling config.json symlink instead of writing through it", async () => {
  const dir = bundle();
  symlinkSync(join(dir, "elsewhere.json"), join(dir, "config.json"));
  await assert.rejects(main(["-b", dir]), /File config.json exists/);
  assert.throws(() => statSync(join(dir, "elsewhere.json")), /ENOENT/);
});

test("a missing bundle, a file as bundle, an argument or an unknown flag are errors", async () => {
  await assert.rejects(main(["-b", join(base, "missing")]), /chdir ".*missing": ENOENT/);
  const file = join(bundle(), "file");
  writeFileSync(file, "");
  await assert.rejects(main(["-b", file]), /ENOTDIR/);
  await assert.rejects(main(["extra"]), /"spec" requires exactly 0 argument\(s\)/);
  await assert.rejects(main(["--nope"]), (e: HoodError) => e.code === "USAGE");
});
