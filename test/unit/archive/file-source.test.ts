/**
 * fileChunks: a regular file is given out as views of one mapping (native/addon/fdio.c mapFile)
 * whose pages are dropped from the page tables behind the stream (mapDrop); an fd or a pipe is
 * read. Every way must give exactly the file's bytes, also for chunks kept after their pages
 * were dropped.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  write,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  FILE_CHUNK,
  fileChunks,
  KEEP_MAPPED,
  MAPPED_CHUNK,
} from "../../../src/archive/file-source.ts";
import { addon, optionalNative } from "../../../src/native/addon.ts";

const dir = mkdtempSync(join(tmpdir(), "hood-file-source-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return out;
}

/** The resident KiB of this process's mapping of `path` (/proc/self/smaps). */
function mappedKiB(path: string): number {
  const smaps = readFileSync("/proc/self/smaps", "utf8");
  const at = smaps.indexOf(` ${path}\n`);
  assert.ok(at >= 0, `${path} is not mapped`);
  const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at));
  return Number(rss![1]);
}

function fileOf(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe("fileChunks", () => {
  it("gives a regular file's bytes in chunks of at most MAPPED_CHUNK, views of one mapping", async () => {
    const data = randomBytes(3 * MAPPED_CHUNK + 12_345);
    const chunks = await collect(fileChunks(fileOf("mapped", data)));
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.deepEqual(
      chunks.map((c) => c.length),
      [MAPPED_CHUNK, MAPPED_CHUNK, MAPPED_CHUNK, 12_345],
    );
    // Mapped: every chunk is a window on one buffer the size of the file (read() would give
    // each its own).
    const buffers = new Set(chunks.map((c) => c.buffer));
    assert.equal(buffers.size, 1);
    assert.equal(chunks[0]!.buffer.byteLength, data.length);
    assert.deepEqual(
      chunks.map((c) => c.byteOffset),
      [0, MAPPED_CHUNK, 2 * MAPPED_CHUNK, 3 * MAPPED_CHUNK],
    );
  });

  it("keeps the bytes of early chunks after their pages were dropped behind the stream", async () => {
    // Pages are dropped once the stream is 2 * KEEP_MAPPED past them: 3 * KEEP_MAPPED drops
    // the first third, and a fourth chunk size given explicitly is honoured too.
    const data = Buffer.alloc(3 * KEEP_MAPPED);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i / 4096, i);
    randomBytes(4096).copy(data, 17);
    const path = fileOf("dropped", data);
    const chunks: Buffer[] = [];
    for await (const c of fileChunks(path, FILE_CHUNK)) {
      // Touched as a consumer touches it, as the stream goes.
      assert.ok(
        c.equals(data.subarray(chunks.length * FILE_CHUNK, (chunks.length + 1) * FILE_CHUNK)),
      );
      chunks.push(c);
    }
    assert.equal(chunks.length, data.length / FILE_CHUNK);
    // What is far behind was dropped: the mapping (still held by the chunks) is not all resident.
    const kib = mappedKiB(path);
    assert.ok(kib <= (2 * KEEP_MAPPED) / 1024 + 4, `${kib} KiB mapped`);
    // And read again, the dropped chunks are unchanged.
    for (let i = 0; i < chunks.length; i++) {
      const want = data.subarray(i * FILE_CHUNK, (i + 1) * FILE_CHUNK);
      assert.ok(chunks[i]!.equals(want), `chunk ${i} changed`);
    }
  });

  it("gives nothing for an empty file, and a clear error for a missing one", async () => {
    assert.deepEqual(await collect(fileChunks(fileOf("empty", Buffer.alloc(0)))), []);
    await assert.rejects(collect(fileChunks(join(dir, "missing"))), (e: Error) => {
      assert.match(e.message, /^read ".*missing": .*ENOENT/);
      return true;
    });
  });

  it("reads an fd from its current offset and leaves it open", async () => {
    const data = randomBytes(FILE_CHUNK + 999);
    const fd = openSync(fileOf("fd", data), "r");
    try {
      readSync(fd, Buffer.alloc(10), 0, 10, null);
      const chunks = await collect(fileChunks({ fd, name: "the fd" }));
      assert.deepEqual(Buffer.concat(chunks), data.subarray(10));
      // Read into buffers of its own, not mapped.
      assert.ok(chunks.every((c) => c.buffer.byteLength === FILE_CHUNK));
      assert.equal(readSync(fd, Buffer.alloc(1), 0, 1, 0), 1);
    } finally {
      closeSync(fd);
    }
  });

  it("reads a non-blocking pipe to its end, waiting whenever it is empty", async () => {
    const data = randomBytes(2 * FILE_CHUNK + 5);
    const fifo = join(dir, "fifo");
    addon().mkfifo(fifo, 0o600);
    const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(fifo, "w");
    try {
      const written = (async () => {
        // In pieces, with pauses: the reader finds the pipe empty (EAGAIN) more than once.
        for (let off = 0; off < data.length; off += 50_000) {
          await new Promise((res) => setTimeout(res, 5));
          await new Promise<void>((res, rej) =>
            write(w, data.subarray(off, off + 50_000), (e) => (e ? rej(e) : res())),
          );
        }
        closeSync(w);
      })();
      const chunks = await collect(fileChunks({ fd: r, name: "the pipe" }));
      await written;
      assert.deepEqual(Buffer.concat(chunks), data);
    } finally {
      closeSync(r);
    }
  });
});

describe("mapDrop", () => {
  const mapDrop = optionalNative<(b: ArrayBuffer, off: number, n: number) => void>("mapDrop");

  it("refuses memory that is not a mapping of mapFile, and leaves it alone", (t) => {
    if (!mapDrop) return t.skip("no addon");
    const b = new ArrayBuffer(64 << 10);
    new Uint8Array(b).fill(7);
    assert.throws(() => mapDrop(b, 0, b.byteLength), /not a buffer of mapFile/);
    assert.ok(new Uint8Array(b).every((x) => x === 7));
  });
});
