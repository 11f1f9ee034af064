/**
 * Copies a directory tree with everything a layer needs kept: types, owners, modes (set-id
 * bits after chown), nanosecond times, xattrs, hard links, devices and fifos. File data is
 * shared with FICLONE where the filesystem can (btrfs, xfs with reflink); otherwise it is
 * copied with copy_file_range. Every path is reached through directory fds, never followed.
 */
import { chmodSync, closeSync, fchmodSync } from "node:fs";
import { AT, fsat, O, S, SINGLE, type StatAt, statAt } from "../archive/fsat.ts";
import { HoodError, syscallError } from "../errors.ts";
import { storageAddon } from "./native.ts";
import { readXattrs } from "./tree-diff.ts";

export interface CopyStats {
  files: number;
  cloned: number;
  copiedBytes: number;
}

const NO_CLONE = new Set(["EOPNOTSUPP", "ENOTSUP", "EXDEV", "EINVAL", "ENOTTY", "EBADF"]);

/** Copies the contents of directory `srcFd` into the empty directory `dstFd`. */
export function copyTree(srcFd: number, dstFd: number): CopyStats {
  const stats: CopyStats = { files: 0, cloned: 0, copiedBytes: 0 };
  const links = new Map<string, { dirFd: number; name: Buffer }[]>();
  let canClone = true;
  const linkFds: number[] = [];

  const setMeta = (dirFd: number, name: Buffer, st: StatAt, fd: number | null) => {
    const type = st.mode & S.IFMT;
    fsat().fsatChown(dirFd, name, st.uid, st.gid, AT.SYMLINK_NOFOLLOW);
    if (type !== S.IFLNK) {
      if (fd !== null) fchmodSync(fd, st.mode & 0o7777);
      else {
        const p = fsat().fsatOpen(dirFd, name, O.PATH | O.NOFOLLOW, 0, SINGLE);
        try {
          fchmodPath(p, st.mode & 0o7777);
        } finally {
          closeSync(p);
        }
      }
    }
  };

  const copyXattrs = (srcDir: number, dstDir: number, name: Buffer, st: StatAt) => {
    const xattrs = readXattrs(srcDir, name, st);
    if (xattrs.size === 0) return;
    const fd = fsat().fsatOpen(dstDir, name, O.PATH | O.NOFOLLOW, 0, SINGLE);
    try {
      for (const [k, v] of xattrs) fsat().fsatSetxattr(fd, k, v, 0);
    } finally {
      closeSync(fd);
    }
  };

  const setTimes = (dirFd: number, name: Buffer, st: StatAt) => {
    fsat().fsatUtimens(
      dirFd,
      name,
      st.atime.sec,
      st.atime.nsec,
      st.mtime.sec,
      st.mtime.nsec,
      AT.SYMLINK_NOFOLLOW,
    );
  };

  const copyData = (srcDir: number, dstDir: number, name: Buffer, st: StatAt) => {
    const src = fsat().fsatOpen(srcDir, name, O.RDONLY | O.NOFOLLOW, 0, SINGLE);
    let dst = -1;
    try {
      dst = fsat().fsatOpen(dstDir, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, 0o600, SINGLE);
      let cloned = false;
      if (canClone && st.size > 0) {
        try {
          storageAddon().ficlone(dst, src);
          cloned = true;
          stats.cloned++;
        } catch (e) {
          if (!NO_CLONE.has((e as { code?: string }).code ?? "")) throw e;
          canClone = false;
        }
      }
      if (!cloned && st.size > 0) {
        const n = storageAddon().copyFileRange(src, dst, st.size);
        if (n !== st.size) {
          throw new HoodError(
            `copy ${JSON.stringify(name.toString())}: got ${n} of ${st.size} bytes (file changed while copied)`,
            "EIO",
          );
        }
        stats.copiedBytes += n;
      }
      setMeta(dstDir, name, st, dst);
    } finally {
      closeSync(src);
      if (dst >= 0) closeSync(dst);
    }
  };

  const walk = (src: number, dst: number) => {
    // An fd of this directory that outlives the walk, made when a first hard link lands here.
    let keep = -1;
    for (const [name] of fsat().fsatReaddir(src)) {
      const st = statAt(src, name);
      if (!st) continue;
      const type = st.mode & S.IFMT;
      if (type !== S.IFDIR && st.nlink > 1) {
        const id = `${st.devMajor}:${st.devMinor}:${st.ino}`;
        const first = links.get(id)?.[0];
        if (first) {
          fsat().fsatLink(first.dirFd, first.name, dst, name, 0);
          continue;
        }
        if (keep < 0) {
          keep = fsat().fsatOpen(dst, ".", O.PATH | O.DIRECTORY, 0, SINGLE);
          linkFds.push(keep);
        }
        links.set(id, [{ dirFd: keep, name }]);
      }
      stats.files++;
      switch (type) {
        case S.IFDIR: {
          fsat().fsatMkdir(dst, name, 0o700);
          const s = fsat().fsatOpen(src, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
          const d = fsat().fsatOpen(dst, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
          try {
            walk(s, d);
            setMeta(dst, name, st, d);
          } finally {
            closeSync(s);
            closeSync(d);
          }
          break;
        }
        case S.IFREG:
          copyData(src, dst, name, st);
          break;
        case S.IFLNK:
          fsat().fsatSymlink(fsat().fsatReadlink(src, name), dst, name);
          setMeta(dst, name, st, null);
          break;
        case S.IFCHR:
        case S.IFBLK:
        case S.IFIFO:
          fsat().fsatMknod(dst, name, type | 0o600, st.rdevMajor, st.rdevMinor);
          setMeta(dst, name, st, null);
          break;
        default:
          continue; // sockets are not copied
      }
      copyXattrs(src, dst, name, st);
      setTimes(dst, name, st);
    }
  };

  try {
    walk(srcFd, dstFd);
  } catch (e) {
    if (e instanceof HoodError) throw e;
    throw syscallError("copy tree", e);
  } finally {
    for (const fd of linkFds) closeSync(fd);
  }
  return stats;
}

/** chmod through an O_PATH fd: fchmod refuses those, the /proc/self/fd link does not. */
function fchmodPath(fd: number, mode: number): void {
  chmodSync(`/proc/self/fd/${fd}`, mode);
}
