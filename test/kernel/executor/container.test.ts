import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addon } from "../../../src/native/addon.ts";
import { step } from "../../../src/setup/program.ts";
import {
  CLONE,
  errorOf,
  execSh,
  MS,
  makeBusyboxRootfs,
  makedev,
  rootfsSteps,
  runProgram,
  skipUnlessRoot,
} from "../../helpers/executor.ts";

const ALL_BUT_USER = CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET;

/** "key=value" lines of a script's output. */
function fields(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of output.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

describe("executor: a busybox container", { skip: skipUnlessRoot(), timeout: 60_000 }, () => {
  let rootfs: { path: string; cleanup: () => void };
  before(() => {
    rootfs = makeBusyboxRootfs();
    mkdirSync(join(rootfs.path, "masked"));
  });
  after(() => rootfs.cleanup());

  test("runs as pid 1 with its own hostname, mounts, devices and masks", async () => {
    const r = await runProgram({
      flags: ALL_BUT_USER,
      steps: [
        ...rootfsSteps(rootfs.path),
        step("mknod-in-root", {
          path: "/dev/null",
          mode: 0o20666,
          dev: makedev(1, 3),
          uid: 0,
          gid: 0,
        }),
        step("symlink-in-root", { target: "/proc/self/fd", path: "/dev/fd" }),
        step("mount", {
          source: "tmpfs",
          target: "/tmp",
          fstype: "tmpfs",
          flags: 0,
          data: "size=1m",
          how: 1,
        }),
        step("mkdir-in-root", { path: "/tmp/a/b/c", mode: 0o750 }),
        step("mkfile-in-root", { path: "/tmp/new/file", mode: 0o640 }),
        step("sethostname", { name: "hood-test" }),
        step("pivot-root", {}),
        step("mask-path", { path: "/proc/timer_list" }),
        step("mask-path", { path: "/masked" }),
        step("mask-path", { path: "/does/not/exist" }),
        step("readonly-path", { path: "/proc/sys" }),
        step("write-file", { path: "/tmp/new/file", data: "written", inRoot: 1 }),
        step("chdir", { path: "/tmp/a" }),
        execSh(
          [
            "echo pid=$$",
            "echo host=$(hostname)",
            "echo cwd=$(pwd)",
            "echo null=$(stat -c '%F %t:%T' /dev/null)",
            "echo fdlink=$(readlink /dev/fd)",
            "echo timer_list=$(wc -c < /proc/timer_list)",
            "echo masked=$(grep ' /masked ' /proc/self/mounts | cut -d' ' -f3,4)",
            "echo sys=$(grep ' /proc/sys ' /proc/self/mounts | cut -d' ' -f4)",
            "echo mkdir=$(stat -c '%a' /tmp/a/b/c)",
            "echo file=$(cat /tmp/new/file)",
            "echo oldroot=$(grep -c ' / ' /proc/self/mounts)",
            "touch /proc/sys/kernel/hostname 2>/dev/null && echo syswrite=ok || echo syswrite=refused",
          ].join("; "),
        ),
      ],
    });
    assert.equal(errorOf(r), undefined, JSON.stringify(r.messages));
    assert.deepEqual(r.status, { code: 0, signal: null }, r.output);
    const f = fields(r.output);
    assert.equal(f.pid, "1");
    assert.equal(f.host, "hood-test");
    assert.equal(f.cwd, "/tmp/a");
    assert.equal(f.null, "character special file 1:3");
    assert.equal(f.fdlink, "/proc/self/fd");
    assert.equal(f.timer_list, "0");
    assert.match(f.masked ?? "", /^tmpfs ro\b/);
    assert.match(f.sys ?? "", /^ro,nosuid,nodev,noexec/);
    assert.equal(f.mkdir, "750");
    assert.equal(f.file, "written");
    assert.equal(f.oldroot, "1", "only the new root is mounted on /");
    assert.equal(f.syswrite, "refused");
  });

  test("close-fds leaves only 0-2 (CVE-2024-21626)", async () => {
    const native = addon();
    // A non-close-on-exec fd the child inherits: without close-fds the container sees it.
    const [a, b] = native.socketpair(1);
    const ls = step("exec", { candidates: ["/bin/ls"], argv: ["ls", "/proc/self/fd"], envp: [] });
    const program = (close: boolean) => [
      ...rootfsSteps(rootfs.path),
      step("pivot-root", {}),
      ...(close ? [step("close-fds", { first: 3, keep: [] })] : []),
      ls,
    ];
    try {
      const leaky = await runProgram({ flags: ALL_BUT_USER, passFds: [b], steps: program(false) });
      assert.ok(
        leaky.output.split("\n").includes(String(b)),
        `control run sees fd ${b}: ${leaky.output}`,
      );
      const clean = await runProgram({ flags: ALL_BUT_USER, passFds: [b], steps: program(true) });
      assert.deepEqual(clean.status, { code: 0, signal: null });
      // 3 is the directory ls itself opened to list.
      assert.deepEqual(clean.output.trim().split("\n"), ["0", "1", "2", "3"]);
    } finally {
      (await import("node:fs")).closeSync(a);
      (await import("node:fs")).closeSync(b);
    }
  });

  test("the container's signals are all default and unblocked", async () => {
    // Node ignores SIGPIPE: the container must not inherit that.
    const mine = readFileSync("/proc/self/status", "utf8");
    assert.doesNotMatch(mine, /SigIgn:\s+0{16}/, "node itself ignores some signals");
    const r = await runProgram({
      flags: ALL_BUT_USER,
      steps: [
        ...rootfsSteps(rootfs.path),
        step("pivot-root", {}),
        step("exec", {
          candidates: ["/bin/grep"],
          argv: ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"],
          envp: [],
        }),
      ],
    });
    assert.equal(r.output, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  });

  test("wait-for-start blocks until the FIFO is opened for reading", async () => {
    const native = addon();
    const fs = await import("node:fs");
    const dir = fs.mkdtempSync(join(rootfs.path, "..", "hood-fifo-"));
    const fifo = join(dir, "exec.fifo");
    native.mkfifo(fifo, 0o600);
    const O_PATH = 0o10000000;
    const fifoFd = native.openat2(-100, fifo, O_PATH, 0, 0);
    let pid = 0;
    try {
      const run = runProgram({
        flags: ALL_BUT_USER,
        passFds: [fifoFd],
        onSpawn: (p) => {
          pid = p;
        },
        steps: [
          ...rootfsSteps(rootfs.path),
          step("pivot-root", {}),
          step("wait-for-start", { fifo: fifoFd }),
          step("close-fd", { fd: fifoFd }),
          step("exec", { candidates: ["/bin/echo"], argv: ["echo", "started"], envp: [] }),
        ],
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(fs.existsSync(`/proc/${pid}`), "still waiting");
      assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^hood-executor\0/);
      const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      await native.waitReadable(reader);
      const buf = Buffer.alloc(8);
      assert.equal(fs.readSync(reader, buf), 1);
      assert.equal(buf.toString("utf8", 0, 1), "0");
      fs.closeSync(reader);
      const r = await run;
      assert.equal(r.output, "started\n");
    } finally {
      fs.closeSync(fifoFd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("console: the pty master goes to the console socket, the peer becomes 0-2", async () => {
    const native = addon();
    const fs = await import("node:fs");
    const [mine, theirs] = native.socketpair(1);
    try {
      const r = await runProgram({
        flags: ALL_BUT_USER,
        passFds: [theirs],
        steps: [
          ...rootfsSteps(rootfs.path),
          step("mkdir-in-root", { path: "/dev/pts", mode: 0o755 }),
          step("mount", {
            source: "devpts",
            target: "/dev/pts",
            fstype: "devpts",
            flags: MS.NOSUID | MS.NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=0620",
            how: 1,
          }),
          step("symlink-in-root", { target: "pts/ptmx", path: "/dev/ptmx" }),
          step("pivot-root", {}),
          step("console", { socket: theirs, rows: 24, cols: 80 }),
          step("close-fds", { first: 3, keep: [] }),
          execSh("tty; stty size; ls /proc/self/fd | wc -l"),
        ],
      });
      assert.equal(errorOf(r), undefined);
      assert.equal(r.output, "", "output goes to the pty, not the original stdout");
      const got = native.recvMsg(mine, 64, 1);
      assert.ok(got);
      assert.equal(got.data.toString(), "/dev/ptmx");
      assert.equal(got.fds.length, 1);
      const master = got.fds[0] as number;
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(4096);
      for (;;) {
        try {
          const n = fs.readSync(master, buf);
          if (n === 0) break;
          chunks.push(Buffer.from(buf.subarray(0, n)));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EIO") break;
          throw e;
        }
      }
      fs.closeSync(master);
      const lines = Buffer.concat(chunks).toString().replaceAll("\r", "").trim().split("\n");
      assert.deepEqual(lines, ["/dev/pts/0", "24 80", "4"]);
    } finally {
      fs.closeSync(mine);
      fs.closeSync(theirs);
    }
  });
});
