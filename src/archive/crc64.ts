/**
 * CRC-64 with the ISO polynomial exactly as Go's `hash/crc64` computes it (reflected, initial
 * value and final xor all ones): tar-split stores it, big-endian, as each file's checksum.
 *
 * It runs over every byte of every layer, so the addon's version (native/addon/crc64.c,
 * carry-less multiplication, ~15 GB/s) is used when the addon loads; the portable one here
 * (~750 MB/s) keeps the codec usable without it. The portable state is two 32-bit halves so
 * that no BigInt is touched in the hot loop, and its table is "slicing by 8".
 */
import { optionalNative } from "../native/addon.ts";

type NativeUpdate = (state: Uint8Array, data: Uint8Array) => void;

/** The addon's crc64Update, or null when the addon (or that function) is missing. */
function native(): NativeUpdate | null {
  return optionalNative<NativeUpdate>("crc64Update");
}

const POLY_HI = 0xd8000000; // ISO polynomial 0xD800000000000000, reflected
const TABLES = 8;
const EMPTY_WORDS = new Uint32Array(0);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const hiTab = new Uint32Array(256 * TABLES);
const loTab = new Uint32Array(256 * TABLES);

for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) hi = (hi ^ POLY_HI) >>> 0;
  }
  hiTab[i] = hi;
  loTab[i] = lo;
}
for (let t = 1; t < TABLES; t++) {
  for (let i = 0; i < 256; i++) {
    const phi = hiTab[(t - 1) * 256 + i]!;
    const plo = loTab[(t - 1) * 256 + i]!;
    const b = plo & 0xff;
    hiTab[t * 256 + i] = (hiTab[b]! ^ (phi >>> 8)) >>> 0;
    loTab[t * 256 + i] = (loTab[b]! ^ ((plo >>> 8) | (phi << 24))) >>> 0;
  }
}

/** An incremental CRC-64/ISO (Go flavour), in the addon when it is there. */
export class Crc64 {
  /** Go's CRC value, big-endian; updated in place by the addon. */
  private readonly state: Buffer | undefined;
  private readonly portable: Crc64Portable | undefined;
  private readonly update_: NativeUpdate | null;

  constructor() {
    this.update_ = native();
    if (this.update_) this.state = Buffer.alloc(8);
    else this.portable = new Crc64Portable();
  }

  update(data: Uint8Array): this {
    if (this.update_) this.update_(this.state!, data);
    else this.portable!.update(data);
    return this;
  }

  /** The 8 checksum bytes, big-endian, as Go's `Sum(nil)` gives them. */
  digest(): Buffer {
    return this.state ? Buffer.from(this.state) : this.portable!.digest();
  }

  /** The digest in base64 (as tar-split stores it), without a copy. */
  digestBase64(): string {
    return (this.state ?? this.portable!.digest()).toString("base64");
  }

  /** Starts over (the CRC of nothing), so one object can serve many files. */
  reset(): this {
    if (this.state) this.state.fill(0);
    else this.portable!.reset();
    return this;
  }
}

/** CRC-64/ISO in JavaScript: the fallback without the addon, and the tests' reference. */
export class Crc64Portable {
  private hi = 0xffffffff;
  private lo = 0xffffffff;

  reset(): this {
    this.hi = 0xffffffff;
    this.lo = 0xffffffff;
    return this;
  }

  update(data: Uint8Array): this {
    let hi = this.hi;
    let lo = this.lo;
    let i = 0;
    const n = data.length;
    // Whole 32-bit words are read through an aligned view (little-endian hosts only, which
    // is every Linux target Node supports but s390x).
    const head = LITTLE_ENDIAN ? Math.min(n, (4 - (data.byteOffset % 4)) % 4) : n;
    for (; i < head; i++) {
      const b = (lo ^ data[i]!) & 0xff;
      lo = (loTab[b]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      hi = (hiTab[b]! ^ (hi >>> 8)) >>> 0;
    }
    const words = LITTLE_ENDIAN ? (n - i) >>> 3 : 0;
    const view =
      words > 0 ? new Uint32Array(data.buffer, data.byteOffset + i, words * 2) : EMPTY_WORDS;
    for (let w = 0; w < view.length; w += 2) {
      const l = lo ^ view[w]!;
      const h = hi ^ view[w + 1]!;
      const a0 = 7 * 256 + (l & 0xff);
      const a1 = 6 * 256 + ((l >>> 8) & 0xff);
      const a2 = 5 * 256 + ((l >>> 16) & 0xff);
      const a3 = 4 * 256 + (l >>> 24);
      const a4 = 3 * 256 + (h & 0xff);
      const a5 = 2 * 256 + ((h >>> 8) & 0xff);
      const a6 = 256 + ((h >>> 16) & 0xff);
      const a7 = h >>> 24;
      hi =
        hiTab[a0]! ^
        hiTab[a1]! ^
        hiTab[a2]! ^
        hiTab[a3]! ^
        hiTab[a4]! ^
        hiTab[a5]! ^
        hiTab[a6]! ^
        hiTab[a7]!;
      lo =
        loTab[a0]! ^
        loTab[a1]! ^
        loTab[a2]! ^
        loTab[a3]! ^
        loTab[a4]! ^
        loTab[a5]! ^
        loTab[a6]! ^
        loTab[a7]!;
    }
    i += words * 8;
    for (; i < n; i++) {
      const b = (lo ^ data[i]!) & 0xff;
      lo = (loTab[b]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      hi = (hiTab[b]! ^ (hi >>> 8)) >>> 0;
    }
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }

  /** The 8 checksum bytes, big-endian, as Go's `Sum(nil)` gives them. */
  digest(): Buffer {
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    out.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return out;
  }
}

/** The CRC-64/ISO of one buffer. */
export function crc64(data: Uint8Array): Buffer {
  return new Crc64().update(data).digest();
}
