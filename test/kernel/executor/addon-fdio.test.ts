import assert from "node:assert/strict";
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addon } from "../../../src/native/addon.ts";
import { SOCK_SEQPACKET, SOCK_STREAM, skipUnlessRoot } from "../../helpers/executor.ts";

const RESOLVE_IN_ROOT = 0x10;
const O_RDONLY = 0;
const O_CREAT = 0o100;
const O_WRONLY = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** The flags line of /proc/self/fdinfo/N, as a number (octal in the file). */
function fdFlags(fd: number): number {
  const m = /flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  return Number.parseInt(m?.[1] ?? "0", 8);
}
const O_CLOEXEC = 0o2000000;

describe("addon: fd syscalls", { skip: skipUnlessRoot() }, () => {
  const native = skipUnlessRoot() ? undefined : addon();
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "hood-fdio-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("sendMsg and recvMsg carry data and fds over a SEQPACKET pair", () => {
    const a = native!;
    const [x, y] = a.socketpair(SOCK_SEQPACKET);
    const [p, q] = a.socketpair(SOCK_STREAM);
    try {
      assert.equal(a.recvMsg(y, 16, 1), null, "nothing queued");
      assert.equal(a.sendMsg(x, Buffer.from("hello"), [p]), 5);
      const got = a.recvMsg(y, 16, 2);
      assert.ok(got);
      assert.equal(got.data.toString(), "hello");
      assert.equal(got.fds.length, 1);
      const passed = got.fds[0] as number;
      assert.ok(fdFlags(passed) & O_CLOEXEC, "received fds are close-on-exec");
      writeSync(passed, "via copy");
      const buf = Buffer.alloc(16);
      assert.equal(buf.toString("utf8", 0, readSync(q, buf)), "via copy");
      closeSync(passed);
      closeSync(x);
      assert.equal(a.recvMsg(y, 16, 0)?.data.length, 0, "end-of-file");
    } finally {
      for (const fd of [y, p, q]) closeSync(fd);
    }
  });

  test("recvMsg refuses a message cut short", () => {
    const a = native!;
    const [x, y] = a.socketpair(SOCK_SEQPACKET);
    a.sendMsg(x, Buffer.alloc(100), []);
    assert.throws(() => a.recvMsg(y, 10, 0), { code: "EMSGSIZE" });
    closeSync(x);
    closeSync(y);
  });

  test("memfdFromFile makes a sealed, executable copy", () => {
    const a = native!;
    const fd = a.memfdFromFile("/bin/busybox", "hood-test");
    try {
      assert.equal(readlinkSync(`/proc/self/fd/${fd}`), "/memfd:hood-test (deleted)");
      assert.equal(fstatSync(fd).size, statSync("/bin/busybox").size);
      assert.ok(fstatSync(fd).mode & 0o111);
      assert.throws(() => writeSync(fd, "x", 0), { code: "EPERM" });
      assert.ok(fdFlags(fd) & O_CLOEXEC);
    } finally {
      closeSync(fd);
    }
  });

  test("openat2 with RESOLVE_IN_ROOT keeps an absolute symlink inside the root", () => {
    const a = native!;
    const root = join(dir, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc", "passwd"), "inside\n");
    symlinkSync("/etc/passwd", join(root, "link"));
    const rootFd = a.openat2(-100, root, O_RDONLY, 0, 0);
    try {
      const fd = a.openat2(rootFd, "link", O_RDONLY, 0, RESOLVE_IN_ROOT);
      assert.equal(readFileSync(fd, "utf8"), "inside\n");
      assert.ok(fdFlags(fd) & O_CLOEXEC);
      closeSync(fd);
      const created = a.openat2(rootFd, "/new", O_WRONLY | O_CREAT, 0o600, RESOLVE_IN_ROOT);
      closeSync(created);
      assert.equal(statSync(join(root, "new")).mode & 0o777, 0o600);
      assert.throws(() => a.openat2(rootFd, "missing", O_RDONLY, 0, RESOLVE_IN_ROOT), {
        code: "ENOENT",
        syscall: "openat2",
      });
    } finally {
      closeSync(rootFd);
    }
  });

  test("flock excludes a second open file description", () => {
    const a = native!;
    const path = join(dir, "lock");
    writeFileSync(path, "");
    const one = a.openat2(-100, path, O_RDONLY, 0, 0);
    const two = a.openat2(-100, path, O_RDONLY, 0, 0);
    try {
      a.flock(one, LOCK_EX | LOCK_NB);
      assert.throws(() => a.flock(two, LOCK_EX | LOCK_NB), { code: "EAGAIN" });
      a.flock(one, LOCK_UN);
      a.flock(two, LOCK_EX | LOCK_NB);
    } finally {
      closeSync(one);
      closeSync(two);
    }
  });

  test("setCloexec sets and clears FD_CLOEXEC", () => {
    const a = native!;
    const [x, y] = a.socketpair(SOCK_STREAM);
    assert.ok(fdFlags(x) & O_CLOEXEC);
    a.setCloexec(x, false);
    assert.equal(fdFlags(x) & O_CLOEXEC, 0);
    a.setCloexec(x, true);
    assert.ok(fdFlags(x) & O_CLOEXEC);
    closeSync(x);
    closeSync(y);
  });

  test("mkfifo makes a FIFO and reports EEXIST", () => {
    const a = native!;
    const path = join(dir, "fifo");
    a.mkfifo(path, 0o600);
    assert.ok(statSync(path).isFIFO());
    assert.throws(() => a.mkfifo(path, 0o600), { code: "EEXIST", syscall: "mkfifo", path });
  });

  test("unixConnect connects to a listening socket and explains a missing one", async () => {
    const a = native!;
    const path = join(dir, "sock");
    const server = createServer((c) => c.end("hi"));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const fd = a.unixConnect(path);
      await a.waitReadable(fd);
      const buf = Buffer.alloc(8);
      assert.equal(buf.toString("utf8", 0, readSync(fd, buf)), "hi");
      closeSync(fd);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.throws(() => a.unixConnect(join(dir, "nothing")), { code: "ENOENT" });
    assert.throws(() => a.unixConnect(`/${"x".repeat(200)}`), { code: "ENAMETOOLONG" });
  });

  test("errnoName names an errno", () => {
    const a = native!;
    assert.deepEqual(a.errnoName(2), { name: "ENOENT", message: "No such file or directory" });
    assert.equal(a.errnoName(1).name, "EPERM");
  });
});
