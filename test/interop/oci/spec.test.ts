/**
 * `hood spec` against `runc spec`: the same bytes and file mode, for the default and the
 * rootless config, as root and as an unprivileged user, and on a cgroup v2 host (simulated in
 * a private mount namespace).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { main } from "../../../src/cli/spec.ts";

const runc = spawnSync("runc", ["--version"], { encoding: "utf8" });
const noRunc = runc.status === 0 ? false : "runc is not installed";
const notRoot = process.geteuid?.() === 0 ? false : "needs root";
const NOBODY = 65534;

const base = mkdtempSync(join(tmpdir(), "hood-spec-interop-"));
chmodSync(base, 0o755);
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

function dir(owner?: number): string {
  const d = join(base, `d${n++}`);
  mkdirSync(d, { mode: 0o755 });
  if (owner !== undefined) spawnSync("chown", [`${owner}:${owner}`, d]);
  return d;
}

function assertSameFile(a: string, b: string): void {
  const [x, y] = [join(a, "config.json"), join(b, "config.json")];
  assert.equal(readFileSync(y, "utf8"), readFileSync(x, "utf8"));
  assert.ok(readFileSync(x).equals(readFileSync(y)));
  assert.equal(statSync(y).mode, statSync(x).mode);
}

const hoodScript = fileURLToPath(new URL("./hood-spec-main.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");
const hoodCommand = (args: string[]) => [process.execPath, "--import", tsx, hoodScript, ...args];

function run(argv: string[], uid?: number) {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: "utf8",
    ...(uid === undefined ? {} : { uid, gid: uid, env: { ...process.env, HOME: "/" } }),
  });
  assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r;
}

describe("hood spec matches runc spec", { skip: noRunc }, () => {
  for (const flags of [[], ["--rootless"]]) {
    test(`byte for byte, in process: spec ${flags.join(" ")}`, async () => {
      const [a, b] = [dir(), dir()];
      run(["runc", "spec", "-b", a, ...flags]);
      assert.equal(await main(["-b", b, "--no-seccomp", ...flags]), 0);
      assertSameFile(a, b);
    });
  }

  test("by default it is runc's config plus hood's default seccomp profile", async () => {
    const [a, b] = [dir(), dir()];
    run(["runc", "spec", "-b", a]);
    assert.equal(await main(["-b", b]), 0);
    const ours = JSON.parse(readFileSync(join(b, "config.json"), "utf8"));
    const theirs = JSON.parse(readFileSync(join(a, "config.json"), "utf8"));
    assert.equal(ours.linux.seccomp.defaultAction, "SCMP_ACT_ERRNO");
    assert.ok(ours.linux.seccomp.syscalls.length > 10);
    delete ours.linux.seccomp;
    assert.deepEqual(ours, theirs);
  });

  test("both refuse to overwrite, with the same message", async () => {
    const d = dir();
    run(["runc", "spec", "-b", d]);
    const r = spawnSync("runc", ["spec", "-b", d], { encoding: "utf8" });
    assert.notEqual(r.status, 0);
    const message = "File config.json exists. Remove it first";
    assert.match(r.stderr, new RegExp(message));
    await assert.rejects(main(["-b", d]), new RegExp(message));
  });

  test("--rootless as an unprivileged user maps that user", { skip: notRoot }, () => {
    const [a, b] = [dir(NOBODY), dir(NOBODY)];
    run(["runc", "spec", "--rootless", "-b", a], NOBODY);
    run(hoodCommand(["--rootless", "--no-seccomp", "-b", b]), NOBODY);
    assertSameFile(a, b);
    assert.match(readFileSync(join(b, "config.json"), "utf8"), /"hostID": 65534/);
  });

  test("on a cgroup v2 host both add a cgroup namespace", { skip: notRoot }, () => {
    const [a, b] = [dir(), dir()];
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const script = [
      "mount -t cgroup2 none /sys/fs/cgroup",
      `runc spec -b ${quote(a)}`,
      hoodCommand(["--no-seccomp", "-b", b]).map(quote).join(" "),
    ].join(" && ");
    run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script]);
    assertSameFile(a, b);
    assert.match(readFileSync(join(b, "config.json"), "utf8"), /"type": "cgroup"\n/);
  });
});
