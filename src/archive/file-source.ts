/**
 * A file as a stream of chunks for `extractLayer`, `TarReader` or `disassemble`.
 *
 * A regular file is mapped (the addon's mapFile) and given out as 1 MiB views of the mapping:
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
/**
 * A mapped file's views are larger: they cost no memory of their own, and fewer, larger
 * pieces mean fewer records for the hash and the writer and fewer small files that straddle
 * two chunks (those leave the batched path). On tmpfs, interleaved: 60k small files 734 ->
 * 650 ms, with both digests 1019-1130 -> 861-1017 ms; 5 x 100 MiB with digests 550-602 ->
 * 464-513 ms. (From fresh buffers, 1 MiB reads had been slower on ext4: their page faults.)
 */
export const MAPPED_CHUNK = 1 << 20;
/**
 * How far behind the stream a mapping's pages stay in the page tables: more than the write
 * queue holds (16 references of a chunk each), so that they are not faulted in again.
 */
export const KEEP_MAPPED = 24 << 20;

type MapFile = (fd: number, length: number) => ArrayBuffer;
type MapDrop = (buffer: ArrayBuffer, offset: number, length: number) => void;

/**
 * Chunks of the file at `path` (MAPPED_CHUNK views when mapped, else FILE_CHUNK reads), or of
 * an open fd from its current offset (it is left open); `chunkSize` sets both.
 */
export async function* fileChunks(
  path: string | { fd: number; name: string },
  chunkSize?: number,
): AsyncGenerator<Buffer> {
  const owned = typeof path === "string";
  const name = owned ? JSON.stringify(path) : path.name;
  let fd: number;
  if (owned) {
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw syscallError(`read ${name}`, e);
    }
  } else fd = path.fd;
  try {
    // Only a file opened here is known to be read from its start.
    const mapped = owned ? mapWhole(fd, name) : undefined;
    if (mapped) {
      yield* mappedChunks(mapped, chunkSize ?? MAPPED_CHUNK);
      return;
    }
    const size = chunkSize ?? FILE_CHUNK;
    for (;;) {
      const b = Buffer.allocUnsafe(size);
      let n: number;
      try {
        n = readSync(fd, b, 0, size, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw syscallError(`read ${name}`, e);
        // A non-blocking pipe (stdin can be one) with nothing in it yet: wait, then read again.
        await waitReadable(fd, name);
        continue;
      }
      if (n === 0) return;
      yield n === size ? b : b.subarray(0, n);
    }
  } finally {
    if (owned) closeSync(fd);
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
