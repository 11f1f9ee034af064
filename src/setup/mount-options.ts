/**
 * The mount option words of runtime-spec `mounts[].options`, as runc reads them: flag words
 * become mount(2) flags, propagation words become separate propagation changes, recursive
 * attribute words (`rro`, `rnosuid`, ...) become mount_setattr attributes, and everything
 * else is fs-specific data passed to the filesystem.
 */

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** Words that set (clear=false) or clear (clear=true) a mount flag. */
const FLAG_WORDS: Record<string, { clear: boolean; flag: number }> = {
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  defaults: { clear: false, flag: 0 },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: 0x800000 },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noexec: { clear: false, flag: MS.NOEXEC },
  noiversion: { clear: true, flag: 0x800000 },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
};

const PROPAGATION_WORDS: Record<string, number> = {
  private: MS.PRIVATE,
  shared: MS.SHARED,
  slave: MS.SLAVE,
  unbindable: MS.UNBINDABLE,
  rprivate: MS.PRIVATE | MS.REC,
  rshared: MS.SHARED | MS.REC,
  rslave: MS.SLAVE | MS.REC,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** mount_setattr MOUNT_ATTR_* bits for the recursive words (`rro`, `rnosuid`, ...). */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;

/** mount_setattr and open_tree flag: apply to the whole tree below the path. */
export const AT_RECURSIVE = 0x8000;

/**
 * runc's recursive words. An access-time mode is one value in a 3-bit field, so setting one
 * must also clear the field (mount_setattr(2)); RELATIME is the field's zero value.
 */
const RECURSIVE_WORDS: Record<string, { clear: boolean; attr: number }> = {
  rro: { clear: false, attr: MOUNT_ATTR.RDONLY },
  rrw: { clear: true, attr: MOUNT_ATTR.RDONLY },
  rnosuid: { clear: false, attr: MOUNT_ATTR.NOSUID },
  rsuid: { clear: true, attr: MOUNT_ATTR.NOSUID },
  rnodev: { clear: false, attr: MOUNT_ATTR.NODEV },
  rdev: { clear: true, attr: MOUNT_ATTR.NODEV },
  rnoexec: { clear: false, attr: MOUNT_ATTR.NOEXEC },
  rexec: { clear: true, attr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { clear: false, attr: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clear: true, attr: MOUNT_ATTR.NODIRATIME },
  rrelatime: { clear: false, attr: MOUNT_ATTR.RELATIME },
  rnorelatime: { clear: true, attr: MOUNT_ATTR.RELATIME },
  rnoatime: { clear: false, attr: MOUNT_ATTR.NOATIME },
  ratime: { clear: true, attr: MOUNT_ATTR.NOATIME },
  rstrictatime: { clear: false, attr: MOUNT_ATTR.STRICTATIME },
  rnostrictatime: { clear: true, attr: MOUNT_ATTR.STRICTATIME },
  rnosymfollow: { clear: false, attr: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clear: true, attr: MOUNT_ATTR.NOSYMFOLLOW },
};

/**
 * The access-time words as the mode they select: the field takes one value, so a word that
 * turns a mode off selects the kernel's default (relatime), and rnorelatime selects strictatime.
 */
const ATIME_WORDS: Record<string, number> = {
  rrelatime: MOUNT_ATTR.RELATIME,
  rnorelatime: MOUNT_ATTR.STRICTATIME,
  rnoatime: MOUNT_ATTR.NOATIME,
  ratime: MOUNT_ATTR.RELATIME,
  rstrictatime: MOUNT_ATTR.STRICTATIME,
  rnostrictatime: MOUNT_ATTR.RELATIME,
};

/**
 * The restricting flags of a recursive bind, as mount_setattr attributes, so that every
 * submount gets them too (a remount reaches only the top mount).
 */
export function recursiveAttrsOf(flags: number): number {
  let attr = 0;
  if (flags & MS.RDONLY) attr |= MOUNT_ATTR.RDONLY;
  if (flags & MS.NOSUID) attr |= MOUNT_ATTR.NOSUID;
  if (flags & MS.NODEV) attr |= MOUNT_ATTR.NODEV;
  if (flags & MS.NOEXEC) attr |= MOUNT_ATTR.NOEXEC;
  return attr;
}

export interface ParsedMountOptions {
  flags: number;
  /** Propagation changes, applied in order after the mount. */
  propagation: number[];
  /** Recursive attributes to set and clear with mount_setattr(AT_RECURSIVE). */
  recAttrSet: number;
  recAttrClear: number;
  /** Comma-joined fs-specific data. */
  data: string;
  /** `idmap` / `ridmap` words. */
  idmap: "" | "idmap" | "ridmap";
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  let recAttrSet = 0;
  let recAttrClear = 0;
  let idmap: ParsedMountOptions["idmap"] = "";
  const data: string[] = [];
  for (const word of options) {
    const flag = FLAG_WORDS[word];
    if (flag) {
      flags = flag.clear ? flags & ~flag.flag : flags | flag.flag;
      continue;
    }
    const prop = PROPAGATION_WORDS[word];
    if (prop !== undefined) {
      propagation.push(prop);
      continue;
    }
    const rec = RECURSIVE_WORDS[word];
    if (rec) {
      const atime = ATIME_WORDS[word];
      if (atime !== undefined) {
        recAttrSet = (recAttrSet & ~MOUNT_ATTR._ATIME) | atime;
        recAttrClear |= MOUNT_ATTR._ATIME;
      } else if (rec.clear) {
        recAttrClear |= rec.attr;
        recAttrSet &= ~rec.attr;
      } else {
        recAttrSet |= rec.attr;
        recAttrClear &= ~rec.attr;
      }
      continue;
    }
    if (word === "idmap" || word === "ridmap") {
      idmap = word;
      continue;
    }
    data.push(word);
  }
  return { flags, propagation, recAttrSet, recAttrClear, data: data.join(","), idmap };
}

/** The propagation flag for `linux.rootfsPropagation`; runc's default is rslave. */
export function rootfsPropagationFlags(value: string | undefined): number {
  if (value === undefined || value === "") return MS.SLAVE | MS.REC;
  const flags = PROPAGATION_WORDS[value];
  if (flags === undefined)
    throw new RangeError(`unknown rootfsPropagation ${JSON.stringify(value)}`);
  return flags;
}

export const PROPAGATION_MASK = MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE;

/** Every option word hood applies (for `hood features`); fs-specific data words are extra. */
export function knownMountOptionWords(): string[] {
  return [
    ...Object.keys(FLAG_WORDS),
    ...Object.keys(PROPAGATION_WORDS),
    ...Object.keys(RECURSIVE_WORDS),
    "idmap",
    "ridmap",
  ].sort();
}
