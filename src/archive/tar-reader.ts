/**
 * A streaming tar reader: ustar, GNU (long names, old and PAX sparse, base-256), PAX (local and
 * global), v7. It never touches the filesystem. Each entry carries the raw bytes that preceded
 * its data (the previous entry's padding and every header block), which is what tar-split keeps.
 * Errors are sticky: after a corrupt header every later call fails with the same error.
 */
import { HoodError } from "../errors.ts";
import { ByteSource } from "./byte-source.ts";
import { parsePaxInt, parsePaxRecords, parsePaxTime } from "./pax.ts";
import {
  BLOCK,
  checksumMatches,
  F,
  fieldBytes,
  headerFormat,
  isZeroBlock,
  paddingFor,
  parseNumber,
  SCAN,
  SCAN_FORMATS,
  scanHeader,
  T,
} from "./tar-format.ts";
import {
  isHeaderOnly,
  kindOf,
  type SparseInfo,
  type SparseRegion,
  type TarHeader,
} from "./tar-header.ts";

export interface TarReaderOptions {
  /** Largest PAX header or GNU long name accepted (bytes); Go's limit is 1 MiB. */
  maxHeaderData?: number;
  /** Largest number of sparse regions accepted for one file. */
  maxSparseRegions?: number;
}

export interface TarEntry {
  header: TarHeader;
  /**
   * The archive bytes read since the previous entry's data ended: its padding, then every
   * header block of this entry (PAX and GNU extension headers with their data, old GNU sparse
   * extension blocks, a PAX 1.0 sparse map). Concatenated, these and the data rebuild the tar.
   */
  raw: Buffer[];
  /** Bytes in the data section after the headers (for a sparse file, the packed fragments). */
  dataSize: number;
}

function badHeader(why: string): HoodError {
  return new HoodError(`read tar archive: ${why}`, "TAR_BAD_HEADER");
}

export class TarReader {
  private readonly src: ByteSource;
  private readonly maxHeaderData: number;
  private readonly maxSparse: number;
  private remaining = 0; // unread data bytes of the current entry
  private pad = 0; // padding after the current entry's data
  private error: unknown;
  private ended = false;
  private global = new Map<string, Buffer>();
  /** The numbers of the header block being read, when scanHeader could parse them. */
  private readonly fields = new Float64Array(SCAN.count);
  /** Raw bytes read when the end of the archive was found (padding and zero blocks). */
  endRaw: Buffer[] = [];

  constructor(source: AsyncIterable<Uint8Array> | ByteSource, options: TarReaderOptions = {}) {
    this.src = source instanceof ByteSource ? source : new ByteSource(source);
    this.maxHeaderData = options.maxHeaderData ?? 1 << 20;
    this.maxSparse = options.maxSparseRegions ?? 1 << 16;
  }

  /** Bytes of the archive consumed so far. */
  get offset(): number {
    return this.src.offset;
  }

  /** The next entry, or null at the end of the archive. */
  async next(): Promise<TarEntry | null> {
    if (this.error) throw this.error;
    if (this.ended) return null;
    try {
      return await this.readNext();
    } catch (e) {
      this.error = e;
      throw e;
    }
  }

  /**
   * The next piece of the current entry's data section (at most `max` bytes), or null when it
   * is all read. The buffer is valid until the source is read again; copy it to keep it.
   */
  async read(max = 1 << 20): Promise<Buffer | null> {
    if (this.error) throw this.error;
    if (this.remaining === 0) return null;
    const p = await this.src.some(Math.min(max, this.remaining));
    if (!p) {
      this.error = new HoodError(
        `read tar archive: unexpected end of archive in file data (at byte ${this.src.offset})`,
        "TAR_TRUNCATED",
      );
      throw this.error;
    }
    this.remaining -= p.length;
    return p;
  }

  /**
   * Like read(), without a promise when it can: the next piece when the source's current
   * chunk has some, null when the data is all read, undefined when read() must be awaited.
   */
  readNow(max = 1 << 20): Buffer | null | undefined {
    if (this.error) return undefined;
    if (this.remaining === 0) return null;
    const p = this.src.someNow(Math.min(max, this.remaining));
    if (!p) return undefined;
    this.remaining -= p.length;
    return p;
  }

  /**
   * For a parser of many entries in one go (plain-batch.ts): true when the reader stands
   * between entries with nothing pending but the previous entry's padding (`padNow`), no
   * global PAX records apply and the current chunk (`source.chunkNow` from `source.posNow`)
   * has bytes. A parser that took entries tells where they ended with `batchTaken`.
   */
  async batchReady(): Promise<boolean> {
    if (this.error || this.ended || this.remaining > 0 || this.global.size > 0) return false;
    if (this.src.posNow >= this.src.chunkNow.length && !(await this.src.fill())) return false;
    return true;
  }

  get source(): ByteSource {
    return this.src;
  }

  /** The padding the next entry's bytes begin with (the previous entry's). */
  get padNow(): number {
    return this.pad;
  }

  /** Entries were taken up to `pos` of the current chunk; the last one's padding is `pad`. */
  batchTaken(pos: number, pad: number): void {
    this.src.advanceTo(pos);
    this.pad = pad;
  }

  /** After next() returned null: the bytes that follow the end-of-archive marker, in pieces. */
  async readRest(max = 1 << 20): Promise<Buffer | null> {
    if (this.error) throw this.error;
    return this.src.some(max);
  }

  async close(): Promise<void> {
    await this.src.close();
  }

  private async readNext(): Promise<TarEntry | null> {
    if (this.remaining > 0) {
      const want = this.remaining;
      const n = await this.src.skip(want);
      this.remaining = 0;
      if (n < want) {
        throw new HoodError(
          `read tar archive: unexpected end of archive in file data (at byte ${this.src.offset})`,
          "TAR_TRUNCATED",
        );
      }
    }
    const raw: Buffer[] = [];
    if (this.pad > 0) {
      // The end of the stream inside the last entry's padding is tolerated, as Go does.
      const p = this.src.takeNow(this.pad) ?? (await this.src.upTo(this.pad));
      this.pad = 0;
      if (p.length > 0) raw.push(p);
    }
    const local = new Map<string, Buffer>();
    const sparse00: string[] = [];
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    for (;;) {
      const block = this.src.takeNow(BLOCK) ?? (await this.src.upTo(BLOCK));
      if (block.length === 0) return this.end(raw);
      if (block.length < BLOCK) {
        throw new HoodError(
          `read tar archive: unexpected end of archive in a header (at byte ${this.src.offset})`,
          "TAR_TRUNCATED",
        );
      }
      raw.push(block);
      const scan = scanHeader(block, this.fields);
      if (scan === 1 || (scan < 0 && isZeroBlock(block))) {
        const second = await this.src.upTo(BLOCK);
        if (second.length > 0) raw.push(second);
        if (second.length === 0 || (second.length === BLOCK && isZeroBlock(second))) {
          return this.end(raw);
        }
        if (second.length < BLOCK) {
          throw new HoodError(
            "read tar archive: unexpected end of archive after a zero block",
            "TAR_TRUNCATED",
          );
        }
        throw badHeader(`a zero block is followed by data at byte ${this.src.offset - BLOCK}`);
      }
      if (scan < 0 && !checksumMatches(block)) {
        throw badHeader(`header checksum mismatch at byte ${this.src.offset - BLOCK}`);
      }
      const f = scan === 0 ? this.fields : undefined;
      const typeflag = block[156]!;
      const format = f ? SCAN_FORMATS[f[SCAN.format]!]! : headerFormat(block);
      const size = f ? f[SCAN.size]! : parseNumber(block, F.size, "size");
      if (size < 0) throw badHeader(`negative size ${size}`);
      if (
        typeflag === T.paxLocal ||
        typeflag === T.paxGlobal ||
        typeflag === T.gnuLongName ||
        typeflag === T.gnuLongLink
      ) {
        const what =
          typeflag === T.gnuLongName || typeflag === T.gnuLongLink ? "GNU long name" : "PAX header";
        if (size > this.maxHeaderData) {
          throw badHeader(
            `${what} of ${size} bytes is larger than the limit ${this.maxHeaderData}`,
          );
        }
        const data = Buffer.from(await this.src.exact(size, what));
        raw.push(data);
        const padding = paddingFor(size);
        // A global header is an entry of its own (as in Go): its padding, like a file's, is
        // read with the next entry.
        if (typeflag === T.paxGlobal) this.pad = padding;
        else if (padding > 0) raw.push(await this.src.exact(padding, `${what} padding`));
        if (typeflag === T.gnuLongName || typeflag === T.gnuLongLink) {
          const v = cString(data, what);
          if (typeflag === T.gnuLongName) longName = v;
          else longLink = v;
          continue;
        }
        const records = parsePaxRecords(data);
        if (typeflag === T.paxGlobal) {
          for (const [k, v] of records) {
            if (v.length === 0) this.global.delete(k);
            else this.global.set(k, v);
          }
          const header = this.buildHeader(
            block,
            format,
            new Map(records),
            [],
            undefined,
            undefined,
            f,
          );
          header.kind = "global";
          header.size = 0;
          return { header, raw, dataSize: 0 };
        }
        for (const [k, v] of records) {
          if (k === "GNU.sparse.offset" || k === "GNU.sparse.numbytes") sparse00.push(v.toString());
          else local.set(k, v);
        }
        continue;
      }
      const header = this.buildHeader(block, format, local, sparse00, longName, longLink, f);
      let dataSize = isHeaderOnly(typeflag) ? 0 : size;
      if (local.has("size") && !isHeaderOnly(typeflag)) dataSize = header.size;
      if (typeflag === T.gnuSparse) {
        header.sparse = await this.readOldSparse(block, raw);
      } else if (header.sparse?.format === "1.0") {
        const mapBytes = await this.readSparseMap10(raw, dataSize, header.sparse);
        dataSize -= mapBytes;
      }
      if (header.sparse) {
        checkSparse(header.sparse, dataSize);
        header.size = header.sparse.realSize;
      } else header.size = dataSize;
      this.remaining = dataSize;
      this.pad = paddingFor(dataSize);
      return { header, raw, dataSize };
    }
  }

  private end(raw: Buffer[]): null {
    this.ended = true;
    this.endRaw = raw;
    return null;
  }

  private buildHeader(
    block: Buffer,
    format: "v7" | "ustar" | "gnu",
    local: Map<string, Buffer>,
    sparse00: string[],
    longName: Buffer | undefined,
    longLink: Buffer | undefined,
    /** The block's numbers from scanHeader, when it parsed them. */
    f?: Float64Array,
  ): TarHeader {
    let name = fieldCopy(block, F.name);
    if (format === "ustar" && block[F.prefix[0]] !== 0) {
      name = Buffer.concat([fieldBytes(block, F.prefix), Buffer.from("/"), name]);
    }
    const typeflag = block[156]!;
    const h: TarHeader = {
      name,
      linkname: fieldCopy(block, F.linkname),
      kind: "file",
      typeflag,
      mode: f ? f[SCAN.mode]! : parseNumber(block, F.mode, "mode"),
      uid: f ? f[SCAN.uid]! : parseNumber(block, F.uid, "uid"),
      gid: f ? f[SCAN.gid]! : parseNumber(block, F.gid, "gid"),
      size: f ? f[SCAN.size]! : parseNumber(block, F.size, "size"),
      mtime: { sec: f ? f[SCAN.mtime]! : parseNumber(block, F.mtime, "mtime"), nsec: 0 },
      uname: fieldText(block, F.uname),
      gname: fieldText(block, F.gname),
      devmajor: 0,
      devminor: 0,
      xattrs: new Map(),
      pax: new Map(),
      format: local.size > 0 ? "pax" : format,
    };
    if (format !== "v7") {
      h.devmajor = f ? f[SCAN.devmajor]! : parseNumber(block, F.devmajor, "devmajor");
      h.devminor = f ? f[SCAN.devminor]! : parseNumber(block, F.devminor, "devminor");
    }
    if (format === "gnu") {
      const at = f ? f[SCAN.atime]! : parseNumber(block, F.atime, "atime");
      const ct = f ? f[SCAN.ctime]! : parseNumber(block, F.ctime, "ctime");
      if (at !== 0) h.atime = { sec: at, nsec: 0 };
      if (ct !== 0) h.ctime = { sec: ct, nsec: 0 };
    }
    // Most entries have no PAX records at all: skip the copying.
    let records = local;
    if (this.global.size > 0) {
      records = new Map(this.global);
      for (const [k, v] of local) records.set(k, v);
    }
    h.pax = records;
    for (const [k, v] of records) applyPax(h, k, v);
    // Go applies GNU long names after PAX records; tar-split must see the same names.
    if (longName) h.name = longName;
    if (longLink) h.linkname = longLink;
    if (records.size > 0 || sparse00.length > 0) h.sparse = paxSparse(records, sparse00, h);
    h.kind = kindOf(typeflag, h.name);
    if (h.name.length === 0 && h.kind !== "global") throw badHeader("entry with an empty name");
    return h;
  }

  private async readOldSparse(block: Buffer, raw: Buffer[]): Promise<SparseInfo> {
    const map: SparseRegion[] = [];
    const take = (b: Buffer, off: number, count: number): void => {
      for (let i = 0; i < count; i++) {
        const o = off + i * 24;
        if (b[o] === 0) return;
        if (map.length >= this.maxSparse) throw badHeader("too many sparse regions");
        map.push({
          offset: parseNumber(b, [o, 12], "sparse offset"),
          length: parseNumber(b, [o + 12, 12], "sparse length"),
        });
      }
    };
    take(block, 386, 4);
    const realSize = parseNumber(block, F.gnuRealSize, "realsize");
    let extended = block[482] !== 0;
    while (extended) {
      const ext = await this.src.exact(BLOCK, "GNU sparse extension header");
      raw.push(ext);
      take(ext, 0, 21);
      extended = ext[504] !== 0;
    }
    return { format: "old", map, realSize };
  }

  /** Reads the GNU 1.0 sparse map at the start of the data section; returns its size. */
  private async readSparseMap10(
    raw: Buffer[],
    dataSize: number,
    info: SparseInfo,
  ): Promise<number> {
    const numbers: number[] = [];
    let want = -1;
    let consumed = 0;
    let partial = "";
    while (want < 0 || numbers.length < want) {
      if (consumed + BLOCK > dataSize) throw badHeader("GNU 1.0 sparse map runs past the data");
      const b = await this.src.exact(BLOCK, "GNU 1.0 sparse map");
      raw.push(b);
      consumed += BLOCK;
      const text = partial + b.toString("latin1");
      const lines = text.split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        if (want >= 0 && numbers.length >= want) break;
        if (!/^[0-9]{1,19}$/.test(line)) throw badHeader("bad number in a GNU 1.0 sparse map");
        const n = Number(line);
        if (want < 0) {
          if (n > this.maxSparse) throw badHeader("too many sparse regions");
          want = n * 2;
        } else numbers.push(n);
      }
      if ((want < 0 || numbers.length < want) && partial.length > 40) {
        throw badHeader("bad GNU 1.0 sparse map");
      }
    }
    info.map = [];
    for (let i = 0; i < numbers.length; i += 2) {
      info.map.push({ offset: numbers[i]!, length: numbers[i + 1]! });
    }
    return consumed;
  }
}

/** Shared by every empty field: it has no bytes to change. */
const EMPTY_FIELD = Buffer.alloc(0);

/** A NUL-terminated header field, copied (the block belongs to the source). */
function fieldCopy(block: Buffer, [off, len]: readonly [number, number]): Buffer {
  let end = off;
  const stop = off + len;
  while (end < stop && block[end] !== 0) end++;
  return end === off ? EMPTY_FIELD : Buffer.copyBytesFrom(block, off, end - off);
}

function fieldText(block: Buffer, [off, len]: readonly [number, number]): string {
  let end = off;
  const stop = off + len;
  while (end < stop && block[end] !== 0) end++;
  return block.toString("utf8", off, end);
}

function cString(data: Buffer, what: string): Buffer {
  const nul = data.indexOf(0);
  if (nul < 0) return data;
  for (let i = nul; i < data.length; i++) {
    if (data[i] !== 0) throw badHeader(`${what} contains a NUL byte`);
  }
  return data.subarray(0, nul);
}

function noNul(v: Buffer, key: string): Buffer {
  if (v.includes(0)) throw badHeader(`PAX ${key} contains a NUL byte`);
  return v;
}

function applyPax(h: TarHeader, key: string, v: Buffer): void {
  switch (key) {
    case "path":
      h.name = noNul(v, key);
      return;
    case "linkpath":
      h.linkname = noNul(v, key);
      return;
    case "uname":
      h.uname = noNul(v, key).toString("utf8");
      return;
    case "gname":
      h.gname = noNul(v, key).toString("utf8");
      return;
    case "uid":
      h.uid = parsePaxInt(v, key);
      return;
    case "gid":
      h.gid = parsePaxInt(v, key);
      return;
    case "size":
      h.size = parsePaxInt(v, key);
      return;
    case "mtime":
      h.mtime = parsePaxTime(v.toString("latin1"), key);
      return;
    case "atime":
      h.atime = parsePaxTime(v.toString("latin1"), key);
      return;
    case "ctime":
      h.ctime = parsePaxTime(v.toString("latin1"), key);
      return;
    case "SCHILY.devmajor":
      h.devmajor = parsePaxInt(v, key);
      return;
    case "SCHILY.devminor":
      h.devminor = parsePaxInt(v, key);
      return;
  }
  if (key.startsWith("SCHILY.xattr.")) {
    h.xattrs.set(key.slice(13), v);
  } else if (key.startsWith("LIBARCHIVE.xattr.")) {
    // libarchive URL-encodes the name and base64-encodes the value.
    h.xattrs.set(decodeURIComponent(key.slice(17)), Buffer.from(v.toString("latin1"), "base64"));
  }
}

function paxSparse(
  records: Map<string, Buffer>,
  sparse00: string[],
  h: TarHeader,
): SparseInfo | undefined {
  const get = (k: string) => records.get(k)?.toString("latin1");
  const major = get("GNU.sparse.major");
  const minor = get("GNU.sparse.minor");
  let format: SparseInfo["format"];
  if (major !== undefined && minor !== undefined) {
    const v = `${major}.${minor}`;
    if (v !== "0.0" && v !== "0.1" && v !== "1.0") return undefined;
    format = v;
  } else if (records.has("GNU.sparse.map")) format = "0.1";
  else if (records.has("GNU.sparse.size")) format = "0.0";
  else return undefined;
  const name = records.get("GNU.sparse.name");
  if (name) h.name = noNul(name, "GNU.sparse.name");
  const sizeRec = records.get("GNU.sparse.size") ?? records.get("GNU.sparse.realsize");
  const realSize = sizeRec ? parsePaxInt(sizeRec, "GNU.sparse.size") : h.size;
  const info: SparseInfo = { format, map: [], realSize };
  if (format === "1.0") return info;
  let nums: string[];
  if (format === "0.0" || sparse00.length > 0) nums = sparse00;
  else {
    const m = get("GNU.sparse.map") ?? "";
    nums = m === "" ? [] : m.split(",");
  }
  if (nums.length % 2 !== 0) throw badHeader("odd number of values in a GNU sparse map");
  for (let i = 0; i < nums.length; i += 2) {
    if (!/^[0-9]{1,19}$/.test(nums[i]!) || !/^[0-9]{1,19}$/.test(nums[i + 1]!)) {
      throw badHeader("bad number in a GNU sparse map");
    }
    info.map.push({ offset: Number(nums[i]), length: Number(nums[i + 1]) });
  }
  return info;
}

function checkSparse(info: SparseInfo, dataSize: number): void {
  let end = 0;
  let total = 0;
  for (const r of info.map) {
    if (
      !Number.isSafeInteger(r.offset) ||
      !Number.isSafeInteger(r.length) ||
      r.offset < end ||
      r.offset + r.length > info.realSize
    ) {
      throw badHeader("sparse map regions overlap, are out of order or run past the file");
    }
    end = r.offset + r.length;
    total += r.length;
  }
  if (total !== dataSize) {
    throw badHeader(`sparse map covers ${total} bytes but the archive holds ${dataSize}`);
  }
}
