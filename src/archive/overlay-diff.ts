/**
 * The reverse of an overlay lower-layer extraction: walks an overlayfs upper directory and
 * writes the OCI layer tar it stands for. A 0:0 character device becomes `.wh.NAME`, an opaque
 * directory (trusted.overlay.opaque or user.overlay.opaque = "y") gets a `.wh..wh..opq` entry,
 * overlay's own xattrs are left out, and files with several links become tar hardlinks.
 * Everything is read through fds below the upper dir, never through joined path strings.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";
import { fsat, O, S, SINGLE, type StatAt, statAt } from "./fsat.ts";
import { type EntryKind, emptyHeader, type TarHeader } from "./tar-header.ts";
import { joinComponents, showPath } from "./tar-path.ts";
import { TarWriter, type WriteFormat } from "./tar-writer.ts";
import { isOverlayXattr, OPAQUE_MARKER, WHITEOUT_PREFIX } from "./whiteout.ts";

export interface UpperDirOptions {
  format?: WriteFormat;
  /** Leave out these names (relative, as bytes joined with "/"), e.g. a work dir. */
  exclude?: (path: Buffer) => boolean;
}

function readXattrs(fd: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let list: Buffer;
  try {
    list = fsat().fsatListxattr(fd);
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (c === "ENOTSUP" || c === "EOPNOTSUPP") return out;
    throw e;
  }
  for (const name of list.toString("utf8").split("\0")) {
    if (name === "") continue;
    const v = fsat().fsatGetxattr(fd, name);
    if (v !== null) out.set(name, v);
  }
  return out;
}

/**
 * Writes the layer tar for the overlay upper dir `upperDir` to `sink` (uncompressed; pipe it
 * through compress() for a .tar.gz or .tar.zst layer).
 */
export async function layerFromUpperDir(
  upperDir: string,
  sink: (chunk: Buffer) => void | Promise<void>,
  options: UpperDirOptions = {},
): Promise<{ entries: number }> {
  const w = new TarWriter(sink, options.format ?? "pax");
  const links = new Map<string, Buffer>();
  let entries = 0;
  let rootFd: number;
  try {
    rootFd = openSync(upperDir, O.RDONLY | O.DIRECTORY);
  } catch (e) {
    throw syscallError(`build layer: open upper dir ${JSON.stringify(upperDir)}`, e);
  }

  const header = (path: Buffer, kind: EntryKind, st: StatAt, xattrs: Map<string, Buffer>) => {
    const h: TarHeader = emptyHeader(path, kind);
    h.mode = st.mode & 0o7777;
    h.uid = st.uid;
    h.gid = st.gid;
    h.mtime = st.mtime;
    for (const [k, v] of xattrs) if (!isOverlayXattr(k)) h.xattrs.set(k, v);
    return h;
  };

  const walk = async (dirFd: number, comps: Buffer[]): Promise<void> => {
    const names = fsat()
      .fsatReaddir(dirFd)
      .map(([n]) => n)
      .sort(Buffer.compare);
    for (const name of names) {
      const childComps = [...comps, name];
      const path = joinComponents(childComps);
      if (options.exclude?.(path)) continue;
      const st = statAt(dirFd, name);
      if (!st) continue; // removed while we walked
      const type = st.mode & S.IFMT;
      const pfd = fsat().fsatOpen(dirFd, name, O.PATH | O.NOFOLLOW, 0, SINGLE);
      let xattrs: Map<string, Buffer>;
      try {
        xattrs = type === S.IFLNK || type === S.IFSOCK ? new Map() : readXattrs(pfd);
      } finally {
        closeSync(pfd);
      }
      for (const k of xattrs.keys()) {
        if (k.endsWith("overlay.redirect") || k.endsWith("overlay.metacopy")) {
          throw new HoodError(
            `build layer: ${showPath(path)} has ${k}: its data is not in the upper dir (mount overlay with redirect_dir=off,metacopy=off)`,
            "OVERLAY_UNSUPPORTED",
          );
        }
      }
      entries++;
      if (type === S.IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0) {
        const wh = joinComponents([...comps, Buffer.concat([Buffer.from(WHITEOUT_PREFIX), name])]);
        await w.add(header(wh, "file", st, new Map()));
        continue;
      }
      if (type === S.IFDIR) {
        const dirPath = Buffer.concat([path, Buffer.from("/")]);
        await w.add(header(dirPath, "directory", st, xattrs));
        const opaque = xattrs.get("trusted.overlay.opaque") ?? xattrs.get("user.overlay.opaque");
        if (opaque?.toString() === "y") {
          const marker = joinComponents([...childComps, Buffer.from(OPAQUE_MARKER)]);
          await w.add(header(marker, "file", st, new Map()));
        }
        const fd = fsat().fsatOpen(dirFd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
        try {
          await walk(fd, childComps);
        } finally {
          closeSync(fd);
        }
        continue;
      }
      if (type === S.IFLNK) {
        const h = header(path, "symlink", st, xattrs);
        h.linkname = fsat().fsatReadlink(dirFd, name);
        await w.add(h);
        continue;
      }
      if (type === S.IFSOCK) continue; // tar cannot hold sockets
      const id = `${st.devMajor}:${st.devMinor}:${st.ino}`;
      if (st.nlink > 1 && type !== S.IFDIR) {
        const first = links.get(id);
        if (first) {
          const h = header(path, "hardlink", st, new Map());
          h.linkname = first;
          await w.add(h);
          continue;
        }
        links.set(id, path);
      }
      if (type === S.IFCHR || type === S.IFBLK || type === S.IFIFO) {
        const kind = type === S.IFCHR ? "char" : type === S.IFBLK ? "block" : "fifo";
        const h = header(path, kind, st, xattrs);
        h.devmajor = st.rdevMajor;
        h.devminor = st.rdevMinor;
        await w.add(h);
        continue;
      }
      const h = header(path, "file", st, xattrs);
      h.size = st.size;
      await w.header(h);
      const fd = fsat().fsatOpen(dirFd, name, O.RDONLY | O.NOFOLLOW, 0, SINGLE);
      try {
        let left = st.size;
        while (left > 0) {
          const buf = Buffer.allocUnsafe(Math.min(left, 1 << 20));
          const n = readSync(fd, buf, 0, buf.length, null);
          if (n === 0)
            throw new HoodError(`build layer: ${showPath(path)} shrank while read`, "EIO");
          left -= n;
          await w.write(buf.subarray(0, n));
        }
      } finally {
        closeSync(fd);
      }
    }
  };

  try {
    await walk(rootFd, []);
    await w.finish();
  } finally {
    closeSync(rootFd);
  }
  return { entries };
}
