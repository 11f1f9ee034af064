/**
 * Pulls bytes from an async iterable of chunks with exact-length reads and zero-copy slices.
 * Chunks are never modified, so slices handed out stay valid; sources must not reuse buffers.
 */
import { HoodError } from "../errors.ts";

export class ByteSource {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Bytes handed out so far. */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Makes at least one byte available; false at the end of the stream. */
  async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      const v = r.value;
      this.chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least one) from the current chunk, or null at the end. */
  async some(max: number): Promise<Buffer | null> {
    if (this.pos >= this.chunk.length && !(await this.fill())) return null;
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /**
   * `n` bytes when the current chunk holds them (a slice, no copy), else null and nothing is
   * consumed: the caller then awaits `upTo` or `exact`. Saves a promise per read.
   */
  takeNow(n: number): Buffer | null {
    if (this.pos + n > this.chunk.length) return null;
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** The current chunk (the bytes from `posNow` on are unread), for a parser working in place. */
  get chunkNow(): Buffer {
    return this.chunk;
  }

  get posNow(): number {
    return this.pos;
  }

  /** Consumes the current chunk's bytes up to `pos` (from `posNow`, at most its length). */
  advanceTo(pos: number): void {
    if (pos < this.pos || pos > this.chunk.length)
      throw new RangeError("advanceTo: outside the chunk");
    this.offset += pos - this.pos;
    this.pos = pos;
  }

  /** Up to `max` bytes (at least one) of the current chunk; null when it is used up. */
  someNow(max: number): Buffer | null {
    const n = Math.min(max, this.chunk.length - this.pos);
    if (n <= 0) return null;
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** Up to `n` bytes; fewer only at the end of the stream. */
  async upTo(n: number): Promise<Buffer> {
    if (this.pos + n <= this.chunk.length) {
      const out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const p = await this.some(n - got);
      if (!p) break;
      parts.push(p);
      got += p.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }

  /** Exactly `n` bytes or a TAR_TRUNCATED error saying what was being read. */
  async exact(n: number, what: string): Promise<Buffer> {
    const b = await this.upTo(n);
    if (b.length < n) {
      throw new HoodError(
        `read tar archive: unexpected end of archive in ${what} (at byte ${this.offset})`,
        "TAR_TRUNCATED",
      );
    }
    return b;
  }

  /** Discards `n` bytes; returns how many there were. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const p = await this.some(left);
      if (!p) break;
      left -= p.length;
    }
    return n - left;
  }

  /** Stops the underlying iterator early (closes files, stops decompressors). */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }
}
