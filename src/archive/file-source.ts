/**
 * A file as a stream of chunks for `extractLayer`, `TarReader` or `disassemble`. Each chunk is
 * a fresh buffer (the reader keeps slices of them) of 256 KiB, so that it is still in the CPU
 * cache while it is hashed, checksummed and copied to the writer. fs.createReadStream's 1 MiB
 * chunks cost twice as much here (page faults on new memory, cache misses). The reads are
 * synchronous: one from the page cache takes ~40 us, less than a round trip to libuv's
 * threadpool, and extraction's own syscalls are synchronous too.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { syscallError } from "../errors.ts";

export const FILE_CHUNK = 256 << 10;

export async function* fileChunks(path: string, chunkSize = FILE_CHUNK): AsyncGenerator<Buffer> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw syscallError(`read ${JSON.stringify(path)}`, e);
  }
  try {
    for (;;) {
      const b = Buffer.allocUnsafe(chunkSize);
      let n: number;
      try {
        n = readSync(fd, b, 0, chunkSize, null);
      } catch (e) {
        throw syscallError(`read ${JSON.stringify(path)}`, e);
      }
      if (n === 0) return;
      yield n === chunkSize ? b : b.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}
