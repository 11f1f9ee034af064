/**
 * Typed access to the addon's mount and btrfs calls (native/addon/mountapi.c and btrfs.c).
 * Every call throws a SyscallError (errno name in `code`) and holds no policy.
 */
import { addon } from "../native/addon.ts";

export interface StorageAddon {
  fsOpen(fsname: string, flags: number): number;
  fsConfig(fd: number, cmd: number, key: string | null, value: string | null, aux: number): void;
  fsReadLog(fd: number): string[];
  fsMount(fd: number, flags: number, attrFlags: number): number;
  moveMount(
    fromDirfd: number,
    fromPath: string,
    toDirfd: number,
    toPath: string,
    flags: number,
  ): void;
  openTree(dirfd: number, path: string, flags: number): number;
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): void;
  umount2(target: string, flags: number): void;
  btrfsSubvolCreate(dirfd: number, name: string): void;
  btrfsSnapshot(srcFd: number, dirfd: number, name: string, readonly: boolean): void;
  btrfsSnapDestroy(dirfd: number, name: string): void;
  btrfsSetReadonly(fd: number, readonly: boolean): void;
  btrfsQuotaEnable(fd: number): void;
  btrfsQgroupLimit(fd: number, maxExclusive: number | bigint): void;
  ficlone(dstFd: number, srcFd: number): void;
  copyFileRange(srcFd: number, dstFd: number, length: number): number;
}

export function storageAddon(): StorageAddon {
  return addon() as unknown as StorageAddon;
}

/** fsconfig commands (linux/mount.h). */
export const FSCONFIG = {
  SET_FLAG: 0,
  SET_STRING: 1,
  CMD_CREATE: 6,
} as const;

export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const MOUNT_ATTR_RDONLY = 0x1;

export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4 } as const;
export const MNT_DETACH = 2;

/** statfs f_type values of the filesystems the drivers care about. */
export const FS_MAGIC = {
  BTRFS: 0x9123683e,
  EXT4: 0xef53,
  XFS: 0x58465342,
  TMPFS: 0x01021994,
  OVERLAY: 0x794c7630,
} as const;
