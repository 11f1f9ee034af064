/**
 * A streaming tar writer: ustar headers when the entry fits, PAX extended headers (default) or
 * GNU long names and base-256 numbers (format "gnu") when it does not. Never touches the
 * filesystem; the caller supplies the data.
 */
import { HoodError } from "../errors.ts";
import { formatPaxTime, paxRecord } from "./pax.ts";
import {
  BLOCK,
  F,
  MAGIC_GNU,
  MAGIC_USTAR,
  paddingFor,
  writeBase256,
  writeBytes,
  writeChecksum,
  writeOctal,
} from "./tar-format.ts";
import type { TarHeader } from "./tar-header.ts";

export type WriteFormat = "pax" | "gnu" | "ustar";

const ZERO = Buffer.alloc(BLOCK * 2);

/** Splits a long name into ustar prefix and name at a slash, or undefined when impossible. */
function splitUstar(name: Buffer): [Buffer, Buffer] | undefined {
  if (name.length <= 100) return [Buffer.alloc(0), name];
  for (let i = Math.min(name.length - 1, 155); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return [name.subarray(0, i), name.subarray(i + 1)];
    }
  }
  return undefined;
}

function block(h: TarHeader, typeflag: number, gnu: boolean): Buffer {
  const b = Buffer.alloc(BLOCK);
  b[156] = typeflag;
  (gnu ? MAGIC_GNU : MAGIC_USTAR).copy(b, 257);
  writeBytes(b, F.uname, Buffer.from(h.uname).subarray(0, 32));
  writeBytes(b, F.gname, Buffer.from(h.gname).subarray(0, 32));
  return b;
}

function number(
  b: Buffer,
  field: readonly [number, number],
  value: number,
  gnu: boolean,
  pax: Array<[string, string]> | undefined,
  key: string,
): void {
  if (writeOctal(b, field, value)) return;
  if (pax) {
    writeOctal(b, field, 0);
    pax.push([key, String(value)]);
  } else if (gnu) writeBase256(b, field, value);
  else
    throw new HoodError(`write tar header: ${key} ${value} does not fit in ustar`, "TAR_TOO_LARGE");
}

/** Encodes every header block of an entry (extension headers first). */
export function encodeHeader(h: TarHeader, format: WriteFormat = "pax"): Buffer[] {
  const gnu = format === "gnu";
  const paxRecs: Array<[string, string | Buffer]> = [];
  const numRecs: Array<[string, string]> | undefined = format === "pax" ? [] : undefined;
  const out: Buffer[] = [];
  const main = block(h, h.typeflag, gnu);
  const longName = (data: Buffer, type: number) => {
    const lb = block(h, type, true);
    writeBytes(lb, F.name, Buffer.from("././@LongLink"));
    writeOctal(lb, F.mode, 0o644);
    writeOctal(lb, F.uid, 0);
    writeOctal(lb, F.gid, 0);
    writeOctal(lb, F.mtime, 0);
    const withNul = Buffer.concat([data, Buffer.alloc(1)]);
    writeOctal(lb, F.size, withNul.length);
    writeChecksum(lb);
    out.push(lb, withNul, Buffer.alloc(paddingFor(withNul.length)));
  };
  // Name and link name.
  if (gnu) {
    if (h.name.length > 100) longName(h.name, 0x4c);
    writeBytes(main, F.name, h.name.subarray(0, 100));
    if (h.linkname.length > 100) longName(h.linkname, 0x4b);
    writeBytes(main, F.linkname, h.linkname.subarray(0, 100));
  } else {
    const split = splitUstar(h.name);
    if (split) {
      writeBytes(main, F.prefix, split[0]);
      writeBytes(main, F.name, split[1]);
    } else if (format === "pax") {
      paxRecs.push(["path", h.name]);
      writeBytes(main, F.name, h.name.subarray(0, 100));
    } else throw new HoodError(`write tar header: name too long for ustar`, "TAR_TOO_LARGE");
    if (h.linkname.length > 100) {
      if (format !== "pax")
        throw new HoodError("write tar header: link name too long", "TAR_TOO_LARGE");
      paxRecs.push(["linkpath", h.linkname]);
    } else writeBytes(main, F.linkname, h.linkname);
  }
  number(main, F.mode, h.mode & 0o7777777, gnu, undefined, "mode");
  number(main, F.uid, h.uid, gnu, numRecs, "uid");
  number(main, F.gid, h.gid, gnu, numRecs, "gid");
  const size = h.kind === "file" ? h.size : 0;
  number(main, F.size, size, gnu, numRecs, "size");
  if (h.mtime.sec < 0 && !gnu && numRecs) {
    writeOctal(main, F.mtime, 0);
    numRecs.push(["mtime", formatPaxTime(h.mtime)]);
  } else number(main, F.mtime, h.mtime.sec, gnu, numRecs, "mtime");
  number(main, F.devmajor, h.devmajor, gnu, numRecs, "SCHILY.devmajor");
  number(main, F.devminor, h.devminor, gnu, numRecs, "SCHILY.devminor");
  if (numRecs) paxRecs.push(...numRecs);
  if (format === "pax") {
    if (h.mtime.nsec !== 0 && !paxRecs.some(([k]) => k === "mtime")) {
      paxRecs.push(["mtime", formatPaxTime(h.mtime)]);
    }
    if (h.atime) paxRecs.push(["atime", formatPaxTime(h.atime)]);
    if (h.ctime) paxRecs.push(["ctime", formatPaxTime(h.ctime)]);
    if (Buffer.byteLength(h.uname) > 32) paxRecs.push(["uname", h.uname]);
    if (Buffer.byteLength(h.gname) > 32) paxRecs.push(["gname", h.gname]);
    for (const [k, v] of h.xattrs) paxRecs.push([`SCHILY.xattr.${k}`, v]);
  } else if (h.xattrs.size > 0) {
    throw new HoodError(`write tar header: xattrs need the pax format`, "TAR_UNSUPPORTED");
  }
  writeChecksum(main);
  if (paxRecs.length > 0) {
    const data = Buffer.concat(paxRecs.map(([k, v]) => paxRecord(k, v)));
    const xb = block(h, 0x78, false);
    const base = h.name.subarray(h.name.lastIndexOf(0x2f) + 1).subarray(0, 80);
    writeBytes(xb, F.name, Buffer.concat([Buffer.from("PaxHeaders.0/"), base]));
    writeOctal(xb, F.mode, 0o644);
    writeOctal(xb, F.uid, 0);
    writeOctal(xb, F.gid, 0);
    writeOctal(xb, F.mtime, 0);
    writeOctal(xb, F.size, data.length);
    writeChecksum(xb);
    out.unshift(xb, data, Buffer.alloc(paddingFor(data.length)));
  }
  out.push(main);
  return out;
}

export class TarWriter {
  private left = 0;
  private pad = 0;

  constructor(
    private readonly sink: (chunk: Buffer) => void | Promise<void>,
    private readonly format: WriteFormat = "pax",
  ) {}

  /** Starts an entry; for a file, exactly `header.size` bytes must follow through write(). */
  async header(h: TarHeader): Promise<void> {
    if (this.left !== 0)
      throw new HoodError("write tar: previous entry is short of data", "TAR_SHORT");
    await this.flushPad();
    for (const b of encodeHeader(h, this.format)) if (b.length > 0) await this.sink(b);
    this.left = h.kind === "file" ? h.size : 0;
    this.pad = paddingFor(this.left);
  }

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length > this.left) {
      throw new HoodError("write tar: more data than the header's size", "TAR_LONG");
    }
    this.left -= chunk.length;
    await this.sink(chunk);
  }

  /** Writes an entry with all its data at once. */
  async add(h: TarHeader, data?: Buffer): Promise<void> {
    await this.header(h);
    if (data && data.length > 0) await this.write(data);
  }

  private async flushPad(): Promise<void> {
    if (this.pad > 0) await this.sink(Buffer.alloc(this.pad));
    this.pad = 0;
  }

  /** Writes the end-of-archive marker (two zero blocks). */
  async finish(): Promise<void> {
    if (this.left !== 0) throw new HoodError("write tar: last entry is short of data", "TAR_SHORT");
    await this.flushPad();
    await this.sink(ZERO);
  }
}
