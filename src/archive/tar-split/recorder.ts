/**
 * Records tar-split metadata while a tar is read, in the same pass as whatever else reads it
 * (extraction, hashing). The entries come out exactly as Go's `asm.NewInputTarStream` makes
 * them, except for sparse files: Go records the expanded contents, which cannot rebuild the
 * packed archive, so hood keeps a sparse file's data section as raw segments (and a size-0
 * file entry for its name) and rebuilds it exactly.
 */
import { Crc64 } from "../crc64.ts";
import type { TarEntry } from "../tar-reader.ts";
import { encodeEntry, FILE_TYPE, SEGMENT_TYPE } from "./storage.ts";

/** Largest raw segment written as one line (a sparse file's data, trailing junk). */
export const MAX_SEGMENT = 1 << 20;

const SEGMENT_HEAD = `{"type":${SEGMENT_TYPE},"payload":"`;
const FILE_HEAD = `{"type":${FILE_TYPE},"name":"`;

/** True for a name of printable ASCII that Go's JSON encoder writes as it is. */
function plainName(name: Buffer): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    // not ", &, <, >, \ and nothing outside 0x20-0x7e
    if (
      c < 0x20 ||
      c > 0x7e ||
      c === 0x22 ||
      c === 0x26 ||
      c === 0x3c ||
      c === 0x3e ||
      c === 0x5c
    ) {
      return false;
    }
  }
  return true;
}

/** Room for metadata before take(); a line that does not fit grows it. */
const OUT_SIZE = (1 << 20) + (256 << 10);

export class SplitRecorder {
  private position = 0;
  // Lines go straight into bytes: joining millions of small strings, then encoding them for
  // gzip, cost more than building them.
  private out = Buffer.allocUnsafe(OUT_SIZE);
  private used = 0;
  private readonly fileCrc = new Crc64();
  private crc: Crc64 | undefined;
  private current: TarEntry | undefined;
  private sparseParts: Buffer[] = [];
  private sparseBytes = 0;

  /** Bytes of metadata waiting to be written; take them with `take()`. */
  get buffered(): number {
    return this.used;
  }

  /** Returns and clears the JSON lines recorded so far (UTF-8). */
  take(): Buffer {
    const b = this.out.subarray(0, this.used);
    this.out = Buffer.allocUnsafe(Math.max(OUT_SIZE, this.used));
    this.used = 0;
    return b;
  }

  /**
   * For a writer of many lines at once (plain-batch.ts): makes room for `bytes` more and
   * returns the buffer, where the next line goes and its position. Follow with `batchDone`.
   */
  batchOut(bytes: number): { out: Buffer; used: number; position: number } {
    this.room(bytes);
    return { out: this.out, used: this.used, position: this.position };
  }

  /** The batch writer's lines end at `used`; the next line's position is `position`. */
  batchDone(used: number, position: number): void {
    if (used < this.used || used > this.out.length) throw new RangeError("batchDone: bad length");
    this.used = used;
    this.position = position;
  }

  /** Makes room for `bytes` more. */
  private room(bytes: number): void {
    if (this.used + bytes <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.used + bytes));
    this.out.copy(bigger, 0, 0, this.used);
    this.out = bigger;
  }

  private push(line: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    this.room(line.length * 3);
    this.used += this.out.write(line, this.used);
  }

  /**
   * A segment line, written in pieces: the same bytes as encodeEntry() gives (base64 and
   * digits are ASCII), without building and then re-encoding one long string per header.
   */
  segment(bytes: Buffer): void {
    if (bytes.length === 0) {
      this.push(
        encodeEntry({ type: SEGMENT_TYPE, payload: bytes, size: 0, position: this.position++ }),
      );
      return;
    }
    const b64 = bytes.toString("base64");
    const tail = `","position":${this.position++}}\n`;
    this.room(SEGMENT_HEAD.length + b64.length + tail.length);
    this.used += this.out.write(SEGMENT_HEAD, this.used, "latin1");
    this.used += this.out.write(b64, this.used, "latin1");
    this.used += this.out.write(tail, this.used, "latin1");
  }

  /** An entry was read: records its raw header bytes. Follow with data() calls and endEntry(). */
  beginEntry(entry: TarEntry): void {
    this.segment(entry.raw.length === 1 ? entry.raw[0]! : Buffer.concat(entry.raw));
    this.current = entry;
    this.crc = entry.header.sparse || entry.dataSize === 0 ? undefined : this.fileCrc.reset();
  }

  /** A piece of the current entry's data section, as the reader gave it. */
  data(chunk: Buffer): void {
    if (this.crc) {
      this.crc.update(chunk);
      return;
    }
    // Sparse data is kept raw; copy because the reader's buffers are reused by the source.
    this.sparseParts.push(Buffer.from(chunk));
    this.sparseBytes += chunk.length;
    if (this.sparseBytes >= MAX_SEGMENT) this.flushSparse();
  }

  private flushSparse(): void {
    if (this.sparseBytes === 0) return;
    this.segment(Buffer.concat(this.sparseParts, this.sparseBytes));
    this.sparseParts = [];
    this.sparseBytes = 0;
  }

  endEntry(): void {
    const entry = this.current;
    if (!entry) return;
    this.flushSparse();
    const sparse = entry.header.sparse !== undefined;
    const size = sparse ? 0 : entry.dataSize;
    const name = entry.header.name;
    if (this.crc && name.length > 0 && plainName(name)) {
      // The usual line, written in pieces: encodeEntry() gives the same bytes.
      const tail = `","size":${size},"payload":"${this.crc.digestBase64()}","position":${this.position++}}\n`;
      this.room(FILE_HEAD.length + name.length + tail.length);
      this.used += this.out.write(FILE_HEAD, this.used, "latin1");
      this.used += name.copy(this.out, this.used);
      this.used += this.out.write(tail, this.used, "latin1");
      this.current = undefined;
      this.crc = undefined;
      return;
    }
    this.push(
      encodeEntry({
        type: FILE_TYPE,
        name: entry.header.name,
        size,
        payload: this.crc ? this.crc.digest() : null,
        position: this.position++,
      }),
    );
    this.current = undefined;
    this.crc = undefined;
  }

  /** The end-of-archive bytes (padding and zero blocks) as the reader found them. */
  endOfArchive(raw: Buffer[]): void {
    const b = Buffer.concat(raw);
    if (b.length > 0) this.segment(b);
  }

  /** Bytes after the end-of-archive marker; call with each piece, then finish(). */
  trailing(chunk: Buffer): void {
    this.segment(Buffer.from(chunk));
  }

  /** Go's disassembler always ends with one empty segment. */
  finish(): void {
    this.segment(Buffer.alloc(0));
  }
}
