/**
 * A file as a stream of chunks for `extractLayer`, `TarReader` or `disassemble`.
 *
 * A regular file is mapped (the addon's mapFile) and given out as 256 KiB views of the mapping:
 * the bytes are read where they lie in the page cache, hashed, checksummed and written from
 * there, with no copy into the process and no fresh buffer per chunk. On the two-core machine
 * this took 150 ms of CPU off a 500 MiB extraction (read() copied it all once, into buffers that
 * were new memory each time). The mapping's pages are dropped from the page tables (mapDrop)
 * once the stream is well past them, so the process's RSS stays bounded however large the file
 * is; a late reader of an old chunk just faults its pages in again. The file must not shrink
 * while it is read (a page past its end is SIGBUS): hood's blobs never change, and a tar given
 * on the command line is read as GNU tar reads it, at the user's word that it stays put.
 *
 * Anything else (an fd such as stdin, a pipe, no addon) is read with synchronous reads into
 * fresh 256 KiB buffers (the reader keeps slices of them): fs.createReadStream's 1 MiB chunks
 * cost twice as much here (page faults on new memory, cache misses), and a read from the page
 * cache takes ~40 us, less than a round trip to libuv's threadpool.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";
import { optionalNative } from "../native/addon.ts";

export const FILE_CHUNK = 256 << 10;
/** How far behind the stream a mapping's pages stay in the page tables. */
const KEEP_MAPPED = 8 << 20;

type MapFile = (fd: number, length: number) => ArrayBuffer;
type MapDrop = (buffer: ArrayBuffer, offset: number, length: number) => void;

/** Chunks of the file at `path`, or of an open fd from its current offset (it is left open). */
export async function* fileChunks(
  path: string | { fd: number; name: string },
  chunkSize = FILE_CHUNK,
): AsyncGenerator<Buffer> {
  const name = typeof path === "string" ? JSON.stringify(path) : path.name;
  let fd: number;
  if (typeof path === "string") {
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw syscallError(`read ${name}`, e);
    }
  } else fd = path.fd;
  try {
    // Only a file opened here is known to be read from its start.
    const mapped = typeof path === "string" ? mapWhole(fd, name) : undefined;
    if (mapped) {
      yield* mappedChunks(mapped, chunkSize);
      return;
    }
    for (;;) {
      const b = Buffer.allocUnsafe(chunkSize);
      let n: number;
      try {
        n = readSync(fd, b, 0, chunkSize, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw syscallError(`read ${name}`, e);
        // A non-blocking pipe (stdin can be one) with nothing in it yet: wait, then read again.
        await waitReadable(fd, name);
        continue;
      }
      if (n === 0) return;
      yield n === chunkSize ? b : b.subarray(0, n);
    }
  } finally {
    if (typeof path === "string") closeSync(fd);
  }
}

/** A mapping of the whole file when it is a regular one that is not empty, else undefined. */
function mapWhole(fd: number, name: string): ArrayBuffer | undefined {
  const mapFile = optionalNative<MapFile>("mapFile");
  if (!mapFile) return undefined;
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size === 0) return undefined;
    size = st.size;
  } catch (e) {
    throw syscallError(`read ${name}`, e);
  }
  try {
    return mapFile(fd, size);
  } catch {
    return undefined; // a file system that cannot map: read it
  }
}

async function* mappedChunks(map: ArrayBuffer, chunkSize: number): AsyncGenerator<Buffer> {
  const drop = optionalNative<MapDrop>("mapDrop");
  const size = map.byteLength;
  let dropped = 0;
  for (let off = 0; off < size; off += chunkSize) {
    yield Buffer.from(map, off, Math.min(chunkSize, size - off));
    if (drop && off - dropped >= 2 * KEEP_MAPPED) {
      drop(map, dropped, off - KEEP_MAPPED - dropped);
      dropped = off - KEEP_MAPPED;
    }
  }
}

async function waitReadable(fd: number, name: string): Promise<void> {
  const wait = optionalNative<(fd: number) => Promise<void>>("waitReadable");
  if (!wait) throw new HoodError(`read ${name}: EAGAIN, and no addon to wait with`, "EAGAIN");
  await wait(fd);
}
