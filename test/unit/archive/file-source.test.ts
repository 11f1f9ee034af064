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
  readSync,
  rmSync,
  write,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FILE_CHUNK, fileChunks } from "../../../src/archive/file-source.ts";
import { addon, optionalNative } from "../../../src/native/addon.ts";

const dir = mkdtempSync(join(tmpdir(), "hood-file-source-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return out;
}

function fileOf(name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe("fileChunks", () => {
  it("gives a regular file's bytes in chunks of at most FILE_CHUNK, as views of one mapping", async () => {
    const data = randomBytes(3 * FILE_CHUNK + 12_345);
    const chunks = await collect(fileChunks(fileOf("mapped", data)));
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.deepEqual(
      chunks.map((c) => c.length),
      [FILE_CHUNK, FILE_CHUNK, FILE_CHUNK, 12_345],
    );
    // Mapped: every chunk is a window on one buffer the size of the file (read() would give
    // each its own).
    const buffers = new Set(chunks.map((c) => c.buffer));
    assert.equal(buffers.size, 1);
    assert.equal(chunks[0]!.buffer.byteLength, data.length);
    assert.deepEqual(
      chunks.map((c) => c.byteOffset),
      [0, FILE_CHUNK, 2 * FILE_CHUNK, 3 * FILE_CHUNK],
    );
  });

  it("keeps the bytes of early chunks after their pages were dropped behind the stream", async () => {
    // 40 MiB: past the 8 MiB kept mapped behind the stream several times over.
    const data = Buffer.alloc(40 << 20);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i / 4096, i);
    randomBytes(4096).copy(data, 17);
    const chunks = await collect(fileChunks(fileOf("dropped", data)));
    assert.equal(chunks.length, data.length / FILE_CHUNK);
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
