/**
 * A file as a stream of chunks for `extractLayer`, `TarReader` or `disassemble`. Each chunk is
 * a fresh buffer (the reader keeps slices of them) of 1 MiB: measured against 256 KiB on the
 * two-core machine (tmpfs, same session), 1 MiB took 12 % less wall time for 5 x 100 MiB
 * files and 7 % less for 60k small files (four times fewer hash and write records, and a
 * twentieth of the small files no longer straddle two chunks, so more of them go in runs);
 * 2 MiB was slower again and cost 65 MiB more peak RSS. The reads are synchronous: one from
 * the page cache takes well under a round trip to libuv's threadpool, and extraction's own
 * syscalls are synchronous too. */
import { closeSync, openSync, readSync } from "node:fs";
import { syscallError } from "../errors.ts";

export const FILE_CHUNK = 1 << 20;

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
