/**
 * Typed access to the addon's fd-relative filesystem calls (native/addon/fsat.c). Paths are
 * bytes (Buffer) or strings; every call throws a SyscallError (errno name in `code`).
 */
import { addon } from "../native/addon.ts";

export type PathArg = Buffer | Uint8Array | string;

export interface FsatAddon {
  fsatOpen(dirfd: number, path: PathArg, flags: number, mode: number, resolve: number): number;
  fsatMkdir(dirfd: number, path: PathArg, mode: number): void;
  fsatMknod(dirfd: number, path: PathArg, mode: number, major: number, minor: number): void;
  fsatSymlink(target: PathArg, dirfd: number, path: PathArg): void;
  fsatLink(
    olddirfd: number,
    oldpath: PathArg,
    newdirfd: number,
    newpath: PathArg,
    flags: number,
  ): void;
  fsatChown(dirfd: number, path: PathArg, uid: number, gid: number, flags: number): void;
  fsatUtimens(
    dirfd: number,
    path: PathArg,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
    flags: number,
  ): void;
  fsatSetxattr(fd: number, name: string, value: Buffer, flags: number): void;
  fsatGetxattr(fd: number, name: string): Buffer | null;
  fsatListxattr(fd: number): Buffer;
  fsatRename(
    olddirfd: number,
    oldpath: PathArg,
    newdirfd: number,
    newpath: PathArg,
    flags: number,
  ): void;
  fsatUnlink(dirfd: number, path: PathArg, flags: number): void;
  fsatStat(dirfd: number, path: PathArg, flags: number): Float64Array | null;
  fsatReadlink(dirfd: number, path: PathArg): Buffer;
  fsatReaddir(fd: number): Array<[Buffer, number]>;
  wqCreate(maxBytes: number, maxFiles: number): WriteQueueHandle;
  wqCreateFile(
    queue: WriteQueueHandle,
    dirfd: number,
    name: PathArg,
    flags: number,
    mode: number,
  ): void;
  wqWrite(queue: WriteQueueHandle, fd: number, data: Uint8Array, offset: number): void;
  wqFinish(
    queue: WriteQueueHandle,
    fd: number,
    path: Uint8Array,
    flags: number,
    uid: number,
    gid: number,
    mode: number,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
    size: number,
  ): void;
  wqFile(
    queue: WriteQueueHandle,
    dirfd: number,
    name: Uint8Array,
    openFlags: number,
    createMode: number,
    data: Uint8Array,
    path: Uint8Array,
    flags: number,
    uid: number,
    gid: number,
    mode: number,
    atimeSec: number,
    atimeNsec: number,
    mtimeSec: number,
    mtimeNsec: number,
  ): void;
  wqHash(queue: WriteQueueHandle, data: Uint8Array): void;
  wqDigest(queue: WriteQueueHandle): Buffer;
  wqDrain(queue: WriteQueueHandle): void;
  wqBacklog(queue: WriteQueueHandle): number;
  wqClose(queue: WriteQueueHandle): void;
}

/** The addon's write queue (an opaque external); see write-queue.ts. */
export type WriteQueueHandle = { readonly __writeQueue: unique symbol };

export function fsat(): FsatAddon {
  return addon() as unknown as FsatAddon;
}

/** Linux constants the callers need (x86-64 and arm64 agree on all of them). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  PATH: 0o10000000,
} as const;

export const RESOLVE = {
  NO_XDEV: 0x01,
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
  IN_ROOT: 0x10,
} as const;

export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  EMPTY_PATH: 0x1000,
} as const;

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

export const DT = { FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12 } as const;

export const S = {
  IFMT: 0o170000,
  IFSOCK: 0o140000,
  IFLNK: 0o120000,
  IFREG: 0o100000,
  IFBLK: 0o60000,
  IFDIR: 0o40000,
  IFCHR: 0o20000,
  IFIFO: 0o10000,
} as const;

/** The fields of fsatStat's array, by name. */
export interface StatAt {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  rdevMajor: number;
  rdevMinor: number;
  atime: { sec: number; nsec: number };
  mtime: { sec: number; nsec: number };
  ctime: { sec: number; nsec: number };
  devMajor: number;
  devMinor: number;
}

export function statAt(dirfd: number, path: PathArg, flags = AT.SYMLINK_NOFOLLOW): StatAt | null {
  const a = fsat().fsatStat(dirfd, path, flags);
  if (!a) return null;
  return {
    mode: a[0]!,
    uid: a[1]!,
    gid: a[2]!,
    size: a[3]!,
    nlink: a[4]!,
    ino: a[5]!,
    rdevMajor: a[6]!,
    rdevMinor: a[7]!,
    atime: { sec: a[8]!, nsec: a[9]! },
    mtime: { sec: a[10]!, nsec: a[11]! },
    ctime: { sec: a[12]!, nsec: a[13]! },
    devMajor: a[14]!,
    devMinor: a[15]!,
  };
}

/**
 * The resolve flags for opening one name (no slash, not "." or "..") in a directory fd: none.
 * With O_NOFOLLOW such a lookup cannot leave the directory, and openat2 with RESOLVE_* flags
 * and O_CREAT costs over ten times more on this kernel (270 us against 20 us).
 */
export const SINGLE = 0;

/** Opens `path` inside the tree rooted at `rootFd`: `..` and symlinks never leave it. */
export function openInRoot(rootFd: number, path: PathArg, flags: number, mode = 0): number {
  return fsat().fsatOpen(rootFd, path, flags, mode, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
}
