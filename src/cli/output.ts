/**
 * hood writes its own output with fs.writeSync: touching process.stdout would make a pipe
 * non-blocking for every process that shares it, containers included (see DESIGN.md).
 */
import { writeSync } from "node:fs";

export function out(text: string): void {
  writeAll(1, text);
}

export function err(text: string): void {
  writeAll(2, text);
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw e;
    }
  }
}
