/**
 * The write queue's thread (native/addon/fsat.c): data lands in queue order, at offsets when
 * given, across the ring's wrap; metadata is applied; files can be created on the thread; a
 * failure is reported with the file's path by every later call; SHA-256 matches node:crypto.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { O } from "../../../src/archive/fsat.ts";
import { CURRENT, FINISH, WriteQueue } from "../../../src/archive/write-queue.ts";

const base = mkdtempSync(join(tmpdir(), "hood-write-queue-"));
after(() => rmSync(base, { recursive: true, force: true }));

describe("the write queue", () => {
  it("writes pieces in order across the ring's wrap, and at offsets", () => {
    const q = new WriteQueue("test", 64 << 10, 4);
    const want: Buffer[] = [];
    const files: string[] = [];
    try {
      for (let f = 0; f < 6; f++) {
        const path = join(base, `w${f}`);
        files.push(path);
        const fd = openSync(path, "w");
        const parts: Buffer[] = [];
        // Odd sizes, some larger than a quarter of the ring (split), many records in all.
        for (let i = 0; i < 40; i++) parts.push(randomBytes((i * 7919 + f * 31) % 20_000));
        for (const p of parts) q.write(fd, p);
        const tail = randomBytes(100);
        const at = parts.reduce((n, p) => n + p.length, 0) + 5000;
        q.write(fd, tail, at);
        q.finish(
          fd,
          Buffer.from(path),
          FINISH.META,
          { uid: 0, gid: 0, mode: 0o640 },
          {
            atime: { sec: 1_600_000_000, nsec: 5 },
            mtime: { sec: 1_600_000_001, nsec: 123_456_789 },
          },
        );
        want.push(Buffer.concat([...parts, Buffer.alloc(5000), tail]));
      }
      q.drain();
    } finally {
      q.close();
    }
    files.forEach((path, i) => {
      // stat before reading: reading may move atime.
      const st = statSync(path, { bigint: true });
      assert.equal(Number(st.mode & 0o7777n), 0o640);
      assert.equal(st.mtimeNs, 1_600_000_001_123_456_789n);
      assert.equal(st.atimeNs, 1_600_000_000_000_000_005n);
      assert.deepEqual(readFileSync(path), want[i], path);
    });
  });

  it("wraps when records fill the ring exactly to its end", () => {
    // A record is a 16-byte-aligned header plus its data; for one of these lengths a record
    // is 1 KiB, whatever the header's size, and 64 of them end exactly at the ring's end.
    for (let len = 1024 - 240; len <= 1024 - 16; len += 16) {
      const path = join(base, `exact${len}`);
      const fd = openSync(path, "w");
      const q = new WriteQueue("test", 64 << 10, 4);
      const parts: Buffer[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          const p = Buffer.alloc(len, i & 0xff);
          parts.push(p);
          q.write(fd, p);
        }
        q.finish(fd, Buffer.from(path), 0);
        q.drain();
      } finally {
        q.close();
      }
      assert.deepEqual(readFileSync(path), Buffer.concat(parts), `length ${len}`);
    }
  });

  it("writes large pieces from the caller's buffers, which stay intact until written", () => {
    // Pieces of 64 KiB and more are referenced, not copied: more of them than the queue
    // holds references, some larger than a quarter of the ring (split).
    const path = join(base, "large");
    const fd = openSync(path, "w");
    const q = new WriteQueue("test", 1 << 20, 4);
    const parts: Buffer[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const p = randomBytes(64 * 1024 + ((i * 7919) % 300_000));
        parts.push(p);
        q.write(fd, p);
      }
      q.finish(fd, Buffer.from(path), 0);
      q.drain();
    } finally {
      q.close();
    }
    assert.deepEqual(readFileSync(path), Buffer.concat(parts));
  });

  it("creates files on its thread and names them in errors", () => {
    const dirFd = openSync(base, "r");
    const q = new WriteQueue("extract");
    try {
      q.create(dirFd, Buffer.from("c1"), O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, 0o600);
      q.write(CURRENT, Buffer.from("one"));
      q.finish(CURRENT, Buffer.from("c1"), FINISH.META, { uid: 0, gid: 0, mode: 0o604 });
      q.drain();
      assert.equal(readFileSync(join(base, "c1"), "utf8"), "one");
      assert.equal(statSync(join(base, "c1")).mode & 0o7777, 0o604);
      // O_EXCL on a name that exists: the create fails on the thread; the next call says so.
      q.create(dirFd, Buffer.from("c1"), O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, 0o600);
      q.write(CURRENT, Buffer.from("two"));
      q.finish(CURRENT, Buffer.from("dir/c1"), FINISH.META);
      assert.throws(
        () => q.drain(),
        (e: Error & { code?: string }) =>
          e.code === "EEXIST" && /^extract: create "dir\/c1": EEXIST/.test(e.message),
      );
      // Sticky: every later call fails the same way, and nothing more is written.
      assert.throws(() => q.write(CURRENT, Buffer.from("x")), /EEXIST/);
      assert.throws(() => q.drain(), /EEXIST/);
      assert.equal(readFileSync(join(base, "c1"), "utf8"), "one");
    } finally {
      q.close();
      closeSync(dirFd);
    }
  });

  it("writes a whole small file as one record, and names it in errors", () => {
    const dirFd = openSync(base, "r");
    const q = new WriteQueue("extract");
    const times = {
      atime: { sec: 1_600_000_000, nsec: 7 },
      mtime: { sec: 1_600_000_002, nsec: 999_999_999 },
    };
    const flags = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW;
    try {
      const old = process.umask(0);
      try {
        // Created with its final mode: utimensat only. Then one created 0600 and chmod'ed.
        q.file(
          dirFd,
          Buffer.from("wf1"),
          flags,
          0o751,
          Buffer.from("one"),
          Buffer.from("a/wf1"),
          FINISH.TIMES,
          0,
          0,
          0o751,
          times,
        );
        q.file(
          dirFd,
          Buffer.from("wf2"),
          flags,
          0o600,
          Buffer.alloc(0),
          Buffer.from("a/wf2"),
          FINISH.META,
          0,
          0,
          0o4755,
          times,
        );
        const big = randomBytes(60_000);
        q.file(
          dirFd,
          Buffer.from("wf3"),
          flags,
          0o644,
          big,
          Buffer.from("a/wf3"),
          FINISH.TIMES,
          0,
          0,
          0o644,
          times,
        );
        q.drain();
        // stat before reading: reading may move atime.
        for (const [name, mode] of [
          ["wf1", 0o751],
          ["wf2", 0o4755],
          ["wf3", 0o644],
        ] as const) {
          const st = statSync(join(base, name), { bigint: true });
          assert.equal(Number(st.mode & 0o7777n), mode, name);
          assert.equal(st.mtimeNs, 1_600_000_002_999_999_999n, name);
          assert.equal(st.atimeNs, 1_600_000_000_000_000_007n, name);
        }
        assert.equal(readFileSync(join(base, "wf1"), "utf8"), "one");
        assert.deepEqual(readFileSync(join(base, "wf3")), big);
      } finally {
        process.umask(old);
      }
      assert.equal(statSync(join(base, "wf2")).size, 0);
      assert.throws(
        () =>
          q.file(
            dirFd,
            Buffer.from("a\0b"),
            flags,
            0o600,
            Buffer.alloc(1),
            Buffer.from("x"),
            0,
            0,
            0,
            0,
            times,
          ),
        /NUL/,
      );
      // The name exists (O_EXCL): the error names the path, and is sticky.
      q.file(
        dirFd,
        Buffer.from("wf1"),
        flags,
        0o600,
        Buffer.from("two"),
        Buffer.from("a/wf1"),
        FINISH.TIMES,
        0,
        0,
        0o600,
        times,
      );
      assert.throws(
        () => q.drain(),
        (e: Error & { code?: string }) =>
          e.code === "EEXIST" && /^extract: create "a\/wf1": EEXIST/.test(e.message),
      );
      assert.throws(() => q.write(CURRENT, Buffer.from("x")), /EEXIST/);
      assert.equal(readFileSync(join(base, "wf1"), "utf8"), "one");
    } finally {
      q.close();
      closeSync(dirFd);
    }
  });

  it("reports a failed write with the file's path", () => {
    const path = join(base, "ro");
    closeSync(openSync(path, "w"));
    const fd = openSync(path, "r"); // not writable: write(2) gives EBADF
    const q = new WriteQueue("extract");
    try {
      q.write(fd, Buffer.from("data"));
      q.finish(fd, Buffer.from("some/file"), 0);
      assert.throws(
        () => q.drain(),
        (e: Error & { code?: string }) =>
          e.code === "EBADF" && e.message.startsWith('extract: write "some/file": EBADF'),
      );
    } finally {
      q.close();
    }
  });

  it("keeps the fd open when asked, after running everything before it", () => {
    const path = join(base, "keep");
    const fd = openSync(path, "w+");
    const q = new WriteQueue("test");
    try {
      q.write(fd, Buffer.from("abc"));
      q.finish(fd, Buffer.from("keep"), FINISH.META | FINISH.KEEP_OPEN, {
        uid: 0,
        gid: 0,
        mode: 0o600,
      });
      // Still open, and the data is there.
      assert.equal(statSync(path).size, 3);
      closeSync(fd);
    } finally {
      q.close();
    }
  });

  it("hashes like node:crypto, in pieces of any size", () => {
    const data = randomBytes(5 << 20);
    const q = new WriteQueue("hash", 256 << 10, 1);
    try {
      for (let i = 0; i < data.length; ) {
        const n = 1 + Math.floor(Math.random() * 200_000);
        q.hash(data.subarray(i, i + n));
        i += n;
      }
      assert.equal(q.digest().toString("hex"), createHash("sha256").update(data).digest("hex"));
      // Starts over: nothing hashed is the empty stream's digest.
      assert.equal(q.digest().toString("hex"), createHash("sha256").digest("hex"));
    } finally {
      q.close();
    }
  });
});
