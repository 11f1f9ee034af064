/**
 * One tar entry's metadata, as the codec reads and writes it. Names are bytes: a tar name
 * need not be UTF-8, and hood gives back exactly the bytes it read.
 */

/** Seconds and nanoseconds since the epoch; PAX carries sub-second precision. */
export interface TarTime {
  sec: number;
  nsec: number;
}

export type EntryKind =
  | "file"
  | "hardlink"
  | "symlink"
  | "char"
  | "block"
  | "directory"
  | "fifo"
  | "global" // a PAX global header, reported so tar-split can keep its bytes
  | "volume" // GNU volume label
  | "other";

/** A data fragment of a sparse file: `length` bytes at `offset` of the expanded file. */
export interface SparseRegion {
  offset: number;
  length: number;
}

export interface SparseInfo {
  /** "old" is the GNU 'S' header; the others are the GNU.sparse.* PAX versions. */
  format: "old" | "0.0" | "0.1" | "1.0";
  map: SparseRegion[];
  /** Size of the expanded file. */
  realSize: number;
}

export interface TarHeader {
  name: Buffer;
  linkname: Buffer;
  kind: EntryKind;
  /** The raw type flag byte. */
  typeflag: number;
  /** Permission and mode bits as stored (07777 plus whatever the writer put). */
  mode: number;
  uid: number;
  gid: number;
  /** Logical size: what reading the entry yields (for a sparse file, the expanded size). */
  size: number;
  mtime: TarTime;
  atime?: TarTime;
  ctime?: TarTime;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from SCHILY.xattr.* and LIBARCHIVE.xattr.*, values as bytes. */
  xattrs: Map<string, Buffer>;
  /** Every PAX record that applied (global then local), values as bytes. */
  pax: Map<string, Buffer>;
  sparse?: SparseInfo;
  /** Which format the entry's header used. */
  format: "v7" | "ustar" | "gnu" | "pax";
}

export function kindOf(typeflag: number, name: Uint8Array): EntryKind {
  switch (typeflag) {
    case 0x30:
    case 0x37:
    case 0x53: // GNU sparse: a regular file
      return "file";
    case 0x00:
      // Old tars mark directories only by a trailing slash.
      return name.length > 0 && name[name.length - 1] === 0x2f ? "directory" : "file";
    case 0x31:
      return "hardlink";
    case 0x32:
      return "symlink";
    case 0x33:
      return "char";
    case 0x34:
      return "block";
    case 0x35:
    case 0x44: // GNU dumpdir
      return "directory";
    case 0x36:
      return "fifo";
    case 0x67:
      return "global";
    case 0x56:
      return "volume";
    default:
      // POSIX: unknown types are read as regular files.
      return typeflag >= 0x41 && typeflag <= 0x5a ? "other" : "file";
  }
}

/** True for types whose size field says nothing about a data section (Go's isHeaderOnlyType). */
export function isHeaderOnly(typeflag: number): boolean {
  return (
    typeflag === 0x31 ||
    typeflag === 0x32 ||
    typeflag === 0x33 ||
    typeflag === 0x34 ||
    typeflag === 0x35 ||
    typeflag === 0x36
  );
}

export function emptyHeader(name: string | Buffer, kind: EntryKind = "file"): TarHeader {
  const typeflags: Record<EntryKind, number> = {
    file: 0x30,
    hardlink: 0x31,
    symlink: 0x32,
    char: 0x33,
    block: 0x34,
    directory: 0x35,
    fifo: 0x36,
    global: 0x67,
    volume: 0x56,
    other: 0x30,
  };
  return {
    name: typeof name === "string" ? Buffer.from(name) : name,
    linkname: Buffer.alloc(0),
    kind,
    typeflag: typeflags[kind],
    mode: kind === "directory" ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: { sec: 0, nsec: 0 },
    uname: "",
    gname: "",
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    pax: new Map(),
    format: "pax",
  };
}
