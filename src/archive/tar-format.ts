/**
 * The fixed layout of a 512-byte tar header block (v7, ustar, GNU) and its number fields:
 * octal text, or GNU base-256 binary when the first byte has its high bit set.
 */
import { HoodError } from "../errors.ts";
import { optionalNative } from "../native/addon.ts";

export const BLOCK = 512;

/** Field offsets and lengths inside a header block. */
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
  // GNU reuses the ustar prefix area:
  atime: [345, 12],
  ctime: [357, 12],
  gnuSparse: [386, 96],
  gnuIsExtended: [482, 1],
  gnuRealSize: [483, 12],
} as const satisfies Record<string, readonly [number, number]>;

/** Type flags (the byte at offset 156). */
export const T = {
  regular: 0x30, // '0'
  regularOld: 0x00, // NUL
  hardlink: 0x31, // '1'
  symlink: 0x32, // '2'
  char: 0x33, // '3'
  block: 0x34, // '4'
  directory: 0x35, // '5'
  fifo: 0x36, // '6'
  contiguous: 0x37, // '7'
  paxLocal: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
  gnuSparse: 0x53, // 'S'
  gnuDumpDir: 0x44, // 'D'
  gnuVolume: 0x56, // 'V'
  gnuMultiVolume: 0x4d, // 'M'
} as const;

export const MAGIC_USTAR = Buffer.from("ustar\x0000", "latin1"); // magic + version
export const MAGIC_GNU = Buffer.from("ustar  \x00", "latin1");

function magicIs(block: Uint8Array, magic: Buffer): boolean {
  for (let i = 0; i < 8; i++) if (block[257 + i] !== magic[i]) return false;
  return true;
}

/** The header format as read from the magic field. */
export type HeaderFormat = "v7" | "ustar" | "gnu";

export function headerFormat(block: Uint8Array): HeaderFormat {
  if (magicIs(block, MAGIC_USTAR)) return "ustar";
  if (magicIs(block, MAGIC_GNU)) return "gnu";
  // Anything else (including "ustar\0" with another version) reads as v7, as Go's reader does:
  // tar-split must find the same names Go finds.
  return "v7";
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Where `scanHeader` puts each number; FORMAT is 0 v7, 1 ustar, 2 gnu. */
export const SCAN = {
  mode: 0,
  uid: 1,
  gid: 2,
  size: 3,
  mtime: 4,
  devmajor: 5,
  devminor: 6,
  atime: 7,
  ctime: 8,
  format: 9,
  count: 10,
} as const;

export const SCAN_FORMATS: readonly HeaderFormat[] = ["v7", "ustar", "gnu"];

type NativeScan = (block: Uint8Array, out: Float64Array) => number;

/**
 * The addon's one-call look at a header block (native/addon/tarhdr.c): 1 when it is all
 * zeros; 0 when its checksum matches and every number field parses as parseNumber parses it
 * (the numbers, and the format, are then in `out` at the SCAN indexes); -1 otherwise (or
 * without the addon): the caller takes the JavaScript path, which says what is wrong.
 */
export function scanHeader(block: Uint8Array, out: Float64Array): number {
  const scan = optionalNative<NativeScan>("tarHeaderScan");
  return scan ? scan(block, out) : -1;
}

/** The bytes of a NUL-terminated field (up to the first NUL). */
export function fieldBytes(block: Uint8Array, [off, len]: readonly [number, number]): Buffer {
  let end = off;
  const stop = off + len;
  while (end < stop && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + off, end - off);
}

/** Parses an octal or base-256 number field; throws on text that is neither. */
export function parseNumber(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  what: string,
): number {
  const first = block[off]!;
  if (first & 0x80) {
    // Base-256: big-endian two's complement, first byte 0x80 (positive) or 0xff (negative).
    const negative = first === 0xff;
    let v = 0;
    for (let i = 0; i < len; i++) {
      let b = block[off + i]!;
      if (i === 0) b &= 0x7f;
      if (negative) b ^= i === 0 ? 0x7f : 0xff;
      v = v * 256 + b;
      if (v > Number.MAX_SAFE_INTEGER) {
        throw new HoodError(`read tar header: ${what} does not fit in 53 bits`, "TAR_BAD_HEADER");
      }
    }
    return negative ? -(v + 1) : v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) {
      throw new HoodError(
        `read tar header: ${what} is not an octal number: ${JSON.stringify(Buffer.from(block.subarray(off, end)).toString("latin1"))}`,
        "TAR_BAD_HEADER",
      );
    }
    v = v * 8 + (c - 0x30);
    digits++;
  }
  // Only spaces and NULs may follow the digits.
  for (; i < end; i++) {
    const c = block[i]!;
    if (c !== 0x20 && c !== 0) {
      throw new HoodError(`read tar header: ${what} has junk after its digits`, "TAR_BAD_HEADER");
    }
  }
  return digits === 0 ? 0 : v;
}

/** The header checksum: unsigned sum of the block with the checksum field read as spaces. */
export function computeChecksum(block: Uint8Array): { unsigned: number; signed: number } {
  // The checksum field counts as eight spaces; signed differs by 256 per byte above 127.
  let unsigned = 8 * 0x20;
  let high = 0;
  for (let i = 0; i < 148; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >>> 7;
  }
  for (let i = 156; i < BLOCK; i++) {
    const b = block[i]!;
    unsigned += b;
    high += b >>> 7;
  }
  return { unsigned, signed: unsigned - 256 * high };
}

export function checksumMatches(block: Uint8Array): boolean {
  let recorded: number;
  try {
    recorded = parseNumber(block, F.chksum, "checksum");
  } catch {
    return false;
  }
  const { unsigned, signed } = computeChecksum(block);
  return recorded === unsigned || recorded === signed;
}

/** Writes `value` as zero-padded octal followed by a NUL; false when it does not fit. */
export function writeOctal(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  value: number,
): boolean {
  if (!Number.isInteger(value) || value < 0) return false;
  const s = value.toString(8);
  if (s.length > len - 1) return false;
  const text = s.padStart(len - 1, "0");
  for (let i = 0; i < text.length; i++) block[off + i] = text.charCodeAt(i);
  block[off + len - 1] = 0;
  return true;
}

/** Writes `value` as GNU base-256 (for numbers too large, or negative, for octal). */
export function writeBase256(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  value: number,
): void {
  let v = BigInt(value);
  if (v < 0n) v = (1n << BigInt(len * 8)) + v;
  for (let i = len - 1; i >= 0; i--) {
    block[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[off] = value < 0 ? 0xff : 0x80;
}

/** Copies bytes into a field; false when they do not fit. */
export function writeBytes(
  block: Uint8Array,
  [off, len]: readonly [number, number],
  value: Uint8Array,
): boolean {
  if (value.length > len) return false;
  block.set(value, off);
  return true;
}

/** Fills the checksum field of a finished header block. */
export function writeChecksum(block: Uint8Array): void {
  const { unsigned } = computeChecksum(block);
  const s = unsigned.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) block[148 + i] = s.charCodeAt(i);
  block[154] = 0;
  block[155] = 0x20;
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
