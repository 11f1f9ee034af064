/**
 * hood's compiled filters loaded into the real kernel, through a tiny C loader (loader.c):
 * mkdir gets EPERM and the rest works, KILL_PROCESS kills, LOG logs, a NOTIFY listener
 * receives the call, and `loadedFiltersOfPid` reads back exactly the loaded program.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { compileSeccomp, encodeProgram } from "../../../src/seccomp/index.ts";
import type { SeccompSpec } from "../../../src/seccomp/profile.ts";

const here = dirname(fileURLToPath(import.meta.url));
const BUSYBOX = "/bin/busybox";
let dir = "";
let loader = "";
let skip: string | false = false;

before(() => {
  if (process.getuid?.() !== 0) {
    skip = "needs root";
    return;
  }
  dir = mkdtempSync(join(tmpdir(), "hood-seccomp-kernel-"));
  loader = join(dir, "loader");
  const r = spawnSync("cc", ["-O1", "-o", loader, join(here, "loader.c")], { encoding: "utf8" });
  if (r.status !== 0) skip = `cannot build the loader: ${r.stderr}`;
  if (spawnSync(BUSYBOX, ["true"]).status !== 0) skip = `${BUSYBOX} is missing`;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function filterFile(spec: SeccompSpec, name: string): { path: string; flags: number } {
  const c = compileSeccomp(spec);
  const path = join(dir, `${name}.bpf`);
  writeFileSync(path, c.filter);
  return { path, flags: c.flags };
}

function run(spec: SeccompSpec, name: string, cmd: string[]) {
  const f = filterFile(spec, name);
  return spawnSync(loader, [f.path, String(f.flags), ...cmd], { encoding: "utf8", timeout: 10000 });
}

const denyMkdir: SeccompSpec = {
  defaultAction: "SCMP_ACT_ALLOW",
  syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
};

test("a profile denying mkdir with EPERM makes mkdir fail and leaves the rest working", (t) => {
  if (skip) return t.skip(skip);
  const target = join(dir, "made");
  const r = run(denyMkdir, "deny-mkdir", [BUSYBOX, "mkdir", target]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Operation not permitted/);
  const ok = run(denyMkdir, "deny-mkdir", [
    BUSYBOX,
    "sh",
    "-c",
    `echo hi > ${join(dir, "file")} && cat ${join(dir, "file")}`,
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, "hi\n");
});

test("KILL_PROCESS kills the process with SIGSYS", (t) => {
  if (skip) return t.skip(skip);
  const r = run(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL_PROCESS" }],
    },
    "kill",
    [BUSYBOX, "mkdir", join(dir, "never")],
  );
  assert.equal(r.signal, "SIGSYS");
});

test("LOG lets the call through and the kernel logs it", (t) => {
  if (skip) return t.skip(skip);
  // The kernel only logs actions listed here; "log" is in the default list.
  const logged = readFileSync("/proc/sys/kernel/seccomp/actions_logged", "utf8");
  assert.match(logged, /\blog\b/);
  const target = join(dir, "logged");
  // A binary with a name of its own, so that its audit line is found wherever it is in the
  // ring buffer (which may wrap), whatever else the machine logs meanwhile.
  // busybox runs argv[1] as the applet when its own name starts with "busybox".
  const comm = `busybox${process.pid % 100000}`;
  const exe = join(dir, comm);
  copyFileSync(BUSYBOX, exe);
  chmodSync(exe, 0o755);
  const r = run(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_LOG" }],
    },
    "log",
    [exe, "mkdir", target],
  );
  assert.equal(r.status, 0, r.stderr);
  // audit type 1326 is AUDIT_SECCOMP; without auditd kauditd prints it to the ring buffer,
  // asynchronously: look for it for a while.
  const line = new RegExp(`type=1326.*comm="${comm}".*syscall=(83|258)`);
  let text = "";
  for (let i = 0; i < 40; i++) {
    const out = spawnSync("dmesg", [], { encoding: "utf8" });
    if (out.status !== 0)
      return t.diagnostic("dmesg is not readable: checked actions_logged and the call only");
    text = out.stdout;
    if (line.test(text)) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  assert.match(text, line);
});

test("a NOTIFY listener receives the call and answers it", (t) => {
  if (skip) return t.skip(skip);
  const r = run(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      listenerPath: "/unused/by/this/test",
      syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
    },
    "notify",
    [BUSYBOX, "mkdir", join(dir, "notified")],
  );
  assert.match(r.stdout, /notify nr=(83|258)/);
  assert.match(r.stderr, /cross-device/i);
  assert.notEqual(r.status, 0);
});

test("loadedFiltersOfPid reads back the filter a process loaded", async (t) => {
  if (skip) return t.skip(skip);
  const { loadedFiltersOfPid } = await import("../../../src/seccomp/dump.ts");
  const f = filterFile(denyMkdir, "dump");
  const child = spawn(loader, [f.path, String(f.flags), BUSYBOX, "sleep", "5"], {
    stdio: "ignore",
  });
  try {
    // Wait until the loader has exec'd busybox (the filter is loaded before exec).
    for (let i = 0; i < 100; i++) {
      const exe = spawnSync("readlink", [`/proc/${child.pid}/exe`], {
        encoding: "utf8",
      }).stdout.trim();
      if (exe.endsWith("busybox")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const filters = loadedFiltersOfPid(child.pid!);
    assert.equal(filters.length, 1);
    assert.deepEqual(encodeProgram(filters[0]!), readFileSync(f.path));
  } finally {
    child.kill("SIGKILL");
  }
});
