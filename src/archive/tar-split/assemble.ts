/**
 * `tar-split asm` as a library: rebuilds the original tar from metadata and the extracted
 * files. Files are opened only inside the root (openat2 RESOLVE_IN_ROOT, no final symlink), and
 * a file's bytes are checked against the recorded CRC-64 before the last of them is written:
 * on a mismatch the output stops short and an error is thrown, so a caller never sees a
 * complete archive with different bytes.
 */
import { closeSync, readSync } from "node:fs";
import { HoodError, syscallError } from "../../errors.ts";
import { Crc64 } from "../crc64.ts";
import { O, openInRoot } from "../fsat.ts";
import { FILE_TYPE, type SplitEntry } from "./storage.ts";

/** Files up to this size are read whole and verified before any byte is written. */
const WHOLE_FILE = 4 << 20;
const CHUNK = 1 << 20;

function printable(name: Buffer): string {
  return JSON.stringify(name.toString("utf8"));
}

/** True when the header block that precedes a file's data describes a sparse file. */
function precededBySparseHeader(segment: Buffer | undefined): boolean {
  if (!segment || segment.length < 512) return false;
  const block = segment.subarray(segment.length - 512);
  if (block[156] === 0x53) return true;
  return segment.includes("GNU.sparse.");
}

/** Output is gathered into pieces of this size: one write per piece, not two per member. */
const OUT_PIECE = 256 << 10;

/**
 * Gathers small pieces of output; a file's bytes are read straight into it and count as
 * written only once their CRC matched.
 */
class Output {
  private buf = Buffer.allocUnsafe(OUT_PIECE);
  private used = 0;
  total = 0;

  constructor(private readonly write: (chunk: Buffer) => void | Promise<void>) {}

  /** Room left in the current piece. */
  get room(): number {
    return this.buf.length - this.used;
  }

  async put(b: Buffer): Promise<void> {
    if (b.length === 0) return;
    if (b.length > this.room) await this.flush();
    if (b.length >= OUT_PIECE / 2) {
      this.total += b.length;
      await this.write(b);
      return;
    }
    b.copy(this.buf, this.used);
    this.used += b.length;
    this.total += b.length;
  }

  /** The free end of the current piece, to read into; keep() then accepts `n` bytes of it. */
  free(): Buffer {
    return this.buf.subarray(this.used);
  }

  keep(n: number): void {
    this.used += n;
    this.total += n;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const piece = this.buf.subarray(0, this.used);
    // The consumer may keep the piece (a gzip stream does): start a new one.
    this.buf = Buffer.allocUnsafe(OUT_PIECE);
    this.used = 0;
    await this.write(piece);
  }
}

/**
 * Writes the archive described by `entries` to `write`, reading file contents below `rootFd`.
 * Returns the number of bytes written.
 */
export async function assemble(
  entries: AsyncIterable<SplitEntry>,
  rootFd: number,
  write: (chunk: Buffer) => void | Promise<void>,
): Promise<number> {
  const out = new Output(write);
  let lastSegment: Buffer | undefined;
  const crc = new Crc64();
  for await (const e of entries) {
    if (e.type !== FILE_TYPE) {
      if (e.payload) await out.put(e.payload);
      lastSegment = e.payload ?? undefined;
      continue;
    }
    if (e.size === 0) continue;
    const name = e.name ?? Buffer.alloc(0);
    if (precededBySparseHeader(lastSegment)) {
      throw new HoodError(
        `assemble tar: ${printable(name)} is a sparse file recorded with its expanded contents ` +
          "(metadata from Go tar-split): the original archive cannot be rebuilt byte for byte",
        "TAR_SPLIT_SPARSE",
      );
    }
    await emitFile(rootFd, name, e, out, crc.reset());
  }
  await out.flush();
  return out.total;
}

/** Reads until `buf` is full or the file ends; the count read. */
function readFull(fd: number, buf: Buffer): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}

async function emitFile(
  rootFd: number,
  name: Buffer,
  e: SplitEntry,
  out: Output,
  crc: Crc64,
): Promise<void> {
  let fd: number;
  try {
    fd = openInRoot(rootFd, name, O.RDONLY | O.NOFOLLOW);
  } catch (err) {
    throw syscallError(`assemble tar: open ${printable(name)}`, err);
  }
  try {
    const mismatch = (got: number) =>
      new HoodError(
        `assemble tar: ${printable(name)} has ${got} bytes but the metadata records ${e.size}`,
        "TAR_SPLIT_MISMATCH",
      );
    const checkCrc = () => {
      if (!crc.digest().equals(e.payload!)) {
        throw new HoodError(
          `assemble tar: ${printable(name)} does not match its recorded CRC-64: the file changed since it was extracted`,
          "TAR_SPLIT_MISMATCH",
        );
      }
    };
    if (e.size <= WHOLE_FILE) {
      // The whole file, and one extra byte to tell a file that grew, is read and checked
      // before any of it counts as output: into the output piece when it fits.
      if (e.size + 1 > out.room) await out.flush();
      const inPlace = e.size + 1 <= out.room;
      const into = inPlace ? out.free() : Buffer.allocUnsafe(e.size + 1);
      const got = readFull(fd, into.subarray(0, e.size + 1));
      if (got !== e.size) throw mismatch(got);
      crc.update(into.subarray(0, got));
      checkCrc();
      if (inPlace) out.keep(got);
      else await out.put(into.subarray(0, got));
      return;
    }
    await out.flush();
    let done = 0;
    let held: Buffer | undefined;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, e.size - done + 1));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      done += n;
      if (done > e.size) throw mismatch(done);
      const piece = buf.subarray(0, n);
      crc.update(piece);
      // Hold one piece back: the last piece is written only after the CRC matched.
      if (held) await out.put(held);
      held = piece;
      if (done === e.size) break;
    }
    if (done !== e.size) throw mismatch(done);
    checkCrc();
    if (held) await out.put(held);
  } finally {
    closeSync(fd);
  }
}
