/**
 * The full comparison of two directory trees, written as an OCI layer tar: what must be
 * applied on `lower` to give `upper`. Used by the drivers whose layers are whole trees (btrfs,
 * vfs, lvmthin), and by overlay when its upper dir cannot be read alone (redirect/metacopy).
 * An entry counts as changed when its type, mode, owner, size, mtime, link count, device
 * number, symlink target or xattrs differ, as containers/storage's naive diff does: a copy or
 * a snapshot keeps all of these, and every write changes the mtime. Deleted names become
 * `.wh.NAME`; the parent directories of a change are written before it (as Docker does) so
 * the layer keeps their owners and modes. Everything is read through directory fds.
 */
import { closeSync, readSync } from "node:fs";
import { fsat, O, S, SINGLE, type StatAt, statAt } from "../archive/fsat.ts";
// The tar writer and whiteout names only: the archive index would load zlib and crypto.
import type { TarHeader } from "../archive/tar-header.ts";
import { TarWriter } from "../archive/tar-writer.ts";
import { WHITEOUT_PREFIX } from "../archive/whiteout.ts";
import { HoodError, syscallError } from "../errors.ts";

type Kind = "file" | "hardlink" | "symlink" | "char" | "block" | "directory" | "fifo";

const TYPEFLAG: Record<Kind, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  directory: 0x35,
  fifo: 0x36,
};

/** A tar header for a path, from its stat and xattrs. */
export function headerOf(
  name: Buffer,
  kind: Kind,
  st: StatAt,
  xattrs: Map<string, Buffer>,
): TarHeader {
  return {
    name,
    linkname: Buffer.alloc(0),
    kind,
    typeflag: TYPEFLAG[kind],
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: st.mtime,
    uname: "",
    gname: "",
    devmajor: kind === "char" || kind === "block" ? st.rdevMajor : 0,
    devminor: kind === "char" || kind === "block" ? st.rdevMinor : 0,
    xattrs,
    pax: new Map(),
    format: "pax",
  };
}

/** overlayfs's own xattrs describe the layering, not the file: they never go into a layer. */
function isOverlayXattr(name: string): boolean {
  return name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.");
}

/** The xattrs of `name` in `dirFd` (none for symlinks and sockets, which cannot carry ours). */
export function readXattrs(dirFd: number, name: Buffer, st: StatAt): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const type = st.mode & S.IFMT;
  if (type === S.IFLNK || type === S.IFSOCK) return out;
  const fd = fsat().fsatOpen(dirFd, name, O.PATH | O.NOFOLLOW, 0, SINGLE);
  try {
    let list: Buffer;
    try {
      list = fsat().fsatListxattr(fd);
    } catch (e) {
      const c = (e as { code?: string }).code;
      if (c === "ENOTSUP" || c === "EOPNOTSUPP") return out;
      throw e;
    }
    for (const x of list.toString("utf8").split("\0")) {
      if (x === "" || isOverlayXattr(x)) continue;
      const v = fsat().fsatGetxattr(fd, x);
      if (v !== null) out.set(x, v);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function kindOf(mode: number): Kind | null {
  switch (mode & S.IFMT) {
    case S.IFREG:
      return "file";
    case S.IFDIR:
      return "directory";
    case S.IFLNK:
      return "symlink";
    case S.IFCHR:
      return "char";
    case S.IFBLK:
      return "block";
    case S.IFIFO:
      return "fifo";
    default:
      return null; // sockets: a tar cannot hold them
  }
}

/** An overlay whiteout (a 0:0 char device) as seen in a raw lower layer: absent, not a file. */
export function isWhiteoutDevice(st: StatAt): boolean {
  return (st.mode & S.IFMT) === S.IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0;
}

function sameXattrs(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w?.equals(v)) return false;
  }
  return true;
}

function openDir(dirFd: number, name: Buffer): number {
  return fsat().fsatOpen(dirFd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
}

function names(dirFd: number): Buffer[] {
  return fsat()
    .fsatReaddir(dirFd)
    .map(([n]) => n)
    .sort(Buffer.compare);
}

const SLASH = Buffer.from("/");

function join(parent: Buffer, name: Buffer): Buffer {
  return parent.length === 0 ? name : Buffer.concat([parent, SLASH, name]);
}

export interface TreeDiffOptions {
  /** Leave out these top-level or nested paths of the upper tree (e.g. "lost+found"). */
  exclude?: (path: Buffer) => boolean;
}

/**
 * Writes the layer tar that turns the tree `lowerFd` (or nothing) into `upperFd` to `sink`.
 * Returns the number of entries written.
 */
export async function diffTrees(
  lowerFd: number | null,
  upperFd: number,
  sink: (chunk: Buffer) => void | Promise<void>,
  options: TreeDiffOptions = {},
): Promise<{ entries: number }> {
  const w = new TarWriter(sink, "pax");
  const links = new Map<string, Buffer>();
  let entries = 0;
  // Directories on the way down that were not written yet: written before their first change.
  const pendingDirs: TarHeader[] = [];

  const emit = async (h: TarHeader, data?: { dirFd: number; name: Buffer; size: number }) => {
    for (const d of pendingDirs) await w.add(d);
    pendingDirs.length = 0;
    entries++;
    if (!data) {
      await w.add(h);
      return;
    }
    h.size = data.size;
    await w.header(h);
    const fd = fsat().fsatOpen(data.dirFd, data.name, O.RDONLY | O.NOFOLLOW, 0, SINGLE);
    try {
      let left = data.size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) {
          throw new HoodError(
            `diff: ${JSON.stringify(h.name.toString())} shrank while it was read`,
            "EIO",
          );
        }
        left -= n;
        await w.write(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  };

  const walk = async (lower: number | null, upper: number, path: Buffer): Promise<void> => {
    const upperNames = names(upper);
    const upperSet = new Set(upperNames.map((n) => n.toString("latin1")));
    if (lower !== null) {
      for (const name of names(lower)) {
        if (upperSet.has(name.toString("latin1"))) continue;
        const st = statAt(lower, name);
        if (!st || isWhiteoutDevice(st)) continue;
        const wh = join(path, Buffer.concat([Buffer.from(WHITEOUT_PREFIX), name]));
        if (options.exclude?.(join(path, name))) continue;
        await emit(headerOf(wh, "file", { ...st, mode: 0o100644, uid: 0, gid: 0 }, new Map()));
      }
    }
    for (const name of upperNames) {
      const child = join(path, name);
      if (options.exclude?.(child)) continue;
      const st = statAt(upper, name);
      if (!st) continue;
      const kind = kindOf(st.mode);
      if (!kind) continue;
      let old = lower === null ? null : statAt(lower, name);
      if (old && isWhiteoutDevice(old)) old = null;
      const xattrs = readXattrs(upper, name, st);
      let changed =
        !old ||
        (old.mode & S.IFMT) !== (st.mode & S.IFMT) ||
        (old.mode & 0o7777) !== (st.mode & 0o7777) ||
        old.uid !== st.uid ||
        old.gid !== st.gid ||
        old.mtime.sec !== st.mtime.sec ||
        old.mtime.nsec !== st.mtime.nsec ||
        (kind !== "directory" && (old.size !== st.size || old.nlink !== st.nlink)) ||
        old.rdevMajor !== st.rdevMajor ||
        old.rdevMinor !== st.rdevMinor;
      if (!changed && old && lower !== null) {
        if (!sameXattrs(readXattrs(lower, name, old), xattrs)) changed = true;
        else if (kind === "symlink") {
          changed = !fsat().fsatReadlink(lower, name).equals(fsat().fsatReadlink(upper, name));
        }
      }
      if (kind === "directory") {
        const h = headerOf(Buffer.concat([child, SLASH]), "directory", st, xattrs);
        if (changed) await emit(h);
        else pendingDirs.push(h);
        const depth = pendingDirs.length;
        const uFd = openDir(upper, name);
        const lFd =
          old && (old.mode & S.IFMT) === S.IFDIR && lower !== null ? openDir(lower, name) : null;
        try {
          await walk(lFd, uFd, child);
        } finally {
          closeSync(uFd);
          if (lFd !== null) closeSync(lFd);
        }
        // Nothing changed below: this directory is not needed after all.
        if (!changed && pendingDirs.length === depth) pendingDirs.pop();
        continue;
      }
      if (!changed) continue;
      const h = headerOf(child, kind, st, xattrs);
      if (kind === "symlink") {
        h.linkname = fsat().fsatReadlink(upper, name);
        await emit(h);
        continue;
      }
      if (kind === "file" && st.nlink > 1) {
        const id = `${st.devMajor}:${st.devMinor}:${st.ino}`;
        const first = links.get(id);
        if (first) {
          const l = headerOf(child, "hardlink", st, new Map());
          l.linkname = first;
          await emit(l);
          continue;
        }
        links.set(id, child);
      }
      if (kind === "file") await emit(h, { dirFd: upper, name, size: st.size });
      else await emit(h);
    }
  };

  try {
    await walk(lowerFd, upperFd, Buffer.alloc(0));
    await w.finish();
  } catch (e) {
    if (e instanceof HoodError) throw e;
    throw syscallError("diff trees", e);
  }
  return { entries };
}
