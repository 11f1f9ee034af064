/**
 * Safe extraction of a tar (or an OCI layer) into a directory. Every path is resolved relative
 * to the target's directory fd: parents are opened with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) and the last component is made with a *at call on that parent fd, so
 * `..`, absolute names, symlinks and hardlinks never reach outside the target, not even through
 * a symlink planted earlier in the same archive. Decompression, both digests and the tar-split
 * metadata are produced in the same single pass. File data and each file's final owner, mode
 * and times go through a write queue (write-queue.ts) whose thread writes them while this one
 * parses and creates the next entries; every create, link, removal and lookup stays here, in
 * archive order.
 */
import { closeSync, fchmodSync, fchownSync, fstatSync, openSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";
import { type DecompressOptions, type LayerDigests, openLayer } from "./compression.ts";
import { AT, fsat, O, openInRoot, S, SINGLE, statAt } from "./fsat.ts";
import { PlainBatch } from "./plain-batch.ts";
import type { TarHeader } from "./tar-header.ts";
import { joinComponents, memberComponents, showPath } from "./tar-path.ts";
import { type TarEntry, TarReader, type TarReaderOptions } from "./tar-reader.ts";
import { recordEnd } from "./tar-split/disassemble.ts";
import { SplitRecorder } from "./tar-split/recorder.ts";
import { overlayOpaqueXattr, whiteoutOf } from "./whiteout.ts";
import { CURRENT, FILE_MAX, FINISH, type FileTimes, WriteQueue } from "./write-queue.ts";

export interface ExtractOptions extends TarReaderOptions, DecompressOptions {
  /**
   * What to do with OCI whiteouts: "apply" deletes what they hide (extracting onto a merged
   * directory), "overlay" turns them into overlayfs whiteouts (an overlay lower layer),
   * "keep" writes them as ordinary files (a plain tar).
   */
  whiteouts?: "apply" | "overlay" | "keep";
  /** overlay mode: use user.overlay.* xattrs (rootless overlay) instead of trusted.overlay.*. */
  rootless?: boolean;
  /** Apply uid/gid from the archive (default: when running as root). */
  sameOwner?: boolean;
  /** Receives tar-split metadata (JSON lines, UTF-8, uncompressed) in the same pass. */
  split?: (metadata: Buffer) => Promise<void>;
  /** Called with each warning (skipped devices, refused names, xattrs the kernel refused). */
  onWarning?: (message: string) => void;
  /**
   * false: every entry the ordinary way, none in runs of plain files (plain-batch.ts); the
   * result is the same, the tests compare both.
   */
  batch?: boolean;
}

export interface ExtractResult {
  entries: number;
  warnings: string[];
}

const FLUSH_AT = 1 << 20;
const NEW_FILE = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW;
const EMPTY = Buffer.alloc(0);

/** The process's umask (read without changing it). */
function currentUmask(): number {
  try {
    return process.umask();
  } catch {
    return 0o7777; // unknown: every file gets its fchmod
  }
}
const ELOOP_LIKE = new Set(["ELOOP", "ENOTDIR", "EXDEV"]);
/**
 * A member name, without its leading "/" and "./", that is not already its path in the root
 * (memberComponents joined): an empty, "." or ".." component, or a trailing slash. Such names
 * go the ordinary way.
 */
const NOT_A_PATH = /(?:^|\/)\.\.?(?:\/|$)|\/\/|\/$/;

function errCode(e: unknown): string {
  return (e as { code?: string }).code ?? "";
}

/**
 * What this extraction has made, by path (bytes as latin1). While `fresh` (the target started
 * empty and nothing was removed since), a name not made here does not exist, so a file can be
 * created on the write queue's thread without looking first: the queue may still be creating
 * it when the next entry is read. Any other step on a name the queue may not have created
 * yet waits for the queue first (`settle`).
 */
class Made {
  private readonly all = new Set<string>();
  private readonly dirs = new Set<string>([""]);

  constructor(
    public fresh: boolean,
    private readonly settle: () => void,
  ) {}

  has(key: string): boolean {
    return this.all.has(key);
  }

  /** Adds a file's key unless it was made before (one lookup): false when it was. */
  addNew(key: string): boolean {
    const n = this.all.size;
    this.all.add(key);
    return this.all.size > n;
  }

  isDir(key: string): boolean {
    return this.dirs.has(key);
  }

  add(key: string, dir: boolean): void {
    this.all.add(key);
    if (dir) this.dirs.add(key);
  }

  /** Before a step on `key`: lets a create of that name queued earlier happen first. */
  touch(key: string): void {
    if (this.all.has(key) && !this.dirs.has(key)) this.settle();
  }

  /** Something was removed: from now on every name is looked at before it is made. */
  removed(): void {
    this.settle();
    this.fresh = false;
  }
}

/** Where one archive is being written: the root fd and a small cache of parent dir fds. */
class Target {
  private cache = new Map<string, number>();
  private readonly cacheMax = 64;

  constructor(
    readonly rootFd: number,
    private readonly made: Made,
    /** Waits for the write queue: it may hold creates in a cached directory fd. */
    private readonly settle: () => void,
  ) {}

  /** An fd of the directory `comps`, resolved in the root; created (0755) when missing. */
  dir(comps: Buffer[]): number {
    if (comps.length === 0) return this.rootFd;
    const key = joinComponents(comps).toString("latin1");
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    // A component may be a file or symlink the queue has yet to create: resolve after it.
    for (let i = 1, k = ""; i <= comps.length; i++) {
      k = i === 1 ? comps[0]!.toString("latin1") : `${k}/${comps[i - 1]!.toString("latin1")}`;
      this.made.touch(k);
    }
    let fd: number;
    try {
      fd = openInRoot(this.rootFd, joinComponents(comps), O.PATH | O.DIRECTORY);
    } catch (e) {
      if (errCode(e) !== "ENOENT") {
        throw syscallError(`extract: open directory ${showPath(joinComponents(comps))}`, e);
      }
      const parent = this.dir(comps.slice(0, -1));
      try {
        fsat().fsatMkdir(parent, comps[comps.length - 1]!, 0o755);
        this.made.add(key, true);
      } catch (e2) {
        if (errCode(e2) !== "EEXIST") {
          throw syscallError(`extract: create directory ${showPath(joinComponents(comps))}`, e2);
        }
      }
      try {
        fd = openInRoot(this.rootFd, joinComponents(comps), O.PATH | O.DIRECTORY);
      } catch (e3) {
        throw syscallError(`extract: open directory ${showPath(joinComponents(comps))}`, e3);
      }
    }
    this.cache.set(key, fd);
    return fd;
  }

  /** The cached fd of the directory `key` (a path as `dir` keys it), without resolving anything. */
  cached(key: string): number | undefined {
    return key === "" ? this.rootFd : this.cache.get(key);
  }

  /** Forgets cached fds of `key` and everything below it: called when that path is removed. */
  forget(key: string): void {
    this.settle();
    for (const [k, fd] of this.cache) {
      if (k === key || k.startsWith(`${key}/`) || key === "") {
        closeSync(fd);
        this.cache.delete(k);
      }
    }
  }

  /** Called between entries, when no cached fd is in use, to keep the cache small. */
  trim(): void {
    if (this.cache.size > this.cacheMax) this.invalidate();
  }

  invalidate(): void {
    if (this.cache.size > 0) this.settle();
    for (const fd of this.cache.values()) closeSync(fd);
    this.cache.clear();
  }

  /** After the write queue was closed (it has run everything). */
  close(): void {
    for (const fd of this.cache.values()) closeSync(fd);
    this.cache.clear();
  }
}

/** True when the directory is empty (false when it cannot be read: then nothing is assumed). */
function isEmptyDir(fd: number): boolean {
  try {
    return fsat().fsatReaddir(fd).length === 0;
  } catch {
    return false;
  }
}

/** Removes `name` in `dirFd`, a directory with everything below it. Never follows symlinks. */
export function removeAt(dirFd: number, name: Buffer): void {
  const st = statAt(dirFd, name);
  if (!st) return;
  if ((st.mode & S.IFMT) !== S.IFDIR) {
    fsat().fsatUnlink(dirFd, name, 0);
    return;
  }
  const fd = fsat().fsatOpen(dirFd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
  try {
    for (const [child] of fsat().fsatReaddir(fd)) removeAt(fd, child);
  } finally {
    closeSync(fd);
  }
  fsat().fsatUnlink(dirFd, name, AT.REMOVEDIR);
}

/** Opens a layer (gzip, zstd or plain), extracts it into `target` and returns both digests. */
export async function extractLayer(
  source: AsyncIterable<Uint8Array>,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractResult & { digests: LayerDigests }> {
  const { tar, digests } = openLayer(source, options);
  const result = await extractTar(tar, target, options);
  return { ...result, digests: await digests };
}

/** Extracts an uncompressed tar stream into the directory `target` (which must exist). */
export async function extractTar(
  tar: AsyncIterable<Uint8Array>,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  let rootFd: number;
  try {
    rootFd = openSync(target, O.RDONLY | O.DIRECTORY);
  } catch (e) {
    throw syscallError(`extract: open target ${JSON.stringify(target)}`, e);
  }
  try {
    return await extractIntoFd(tar, rootFd, options);
  } finally {
    closeSync(rootFd);
  }
}

interface DeferredDir {
  comps: Buffer[];
  header: TarHeader;
}

/** The extraction proper, into an open directory fd. */
export async function extractIntoFd(
  tar: AsyncIterable<Uint8Array>,
  rootFd: number,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const reader = new TarReader(tar, options);
  const rec = options.split ? new SplitRecorder() : undefined;
  const mode = options.whiteouts ?? "keep";
  const sameOwner = options.sameOwner ?? process.geteuid?.() === 0;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };
  // A new file already has its final mode when it is created with it: no set-id bits (fchown
  // would clear them, and they must not exist before the owner is right) and none the umask
  // takes away. It already has its final owner when the archive's is ours and the directory
  // it is made in is one this extraction made (its gid is ours, or the root's when set-gid:
  // so the root's gid must be ours too).
  const umask = currentUmask();
  const euid = process.geteuid?.() ?? -1;
  const egid = process.getegid?.() ?? -1;
  let rootGid = -2;
  try {
    rootGid = fstatSync(rootFd).gid;
  } catch {
    // then every file gets its fchown
  }
  const wq = new WriteQueue("extract");
  const settle = () => wq.drain();
  const made = new Made(isEmptyDir(rootFd), settle);
  const t = new Target(rootFd, made, settle);
  // Only "apply" needs to know which paths this layer made (whiteouts never hide them).
  const created = mode === "apply" ? new Set<string>() : undefined;
  const dirs: DeferredDir[] = [];
  const plain = options.batch === false ? undefined : PlainBatch.create(FILE_MAX);
  let entries = 0;
  let canMknod = true;
  try {
    for (;;) {
      if (plain && made.fresh) {
        const k = await takePlain(plain);
        if (k > 0) {
          entries += k;
          if (rec && rec.buffered >= FLUSH_AT) await options.split!(rec.take());
          continue;
        }
      }
      const entry = await reader.next();
      if (!entry) break;
      entries++;
      rec?.beginEntry(entry);
      const sink = extractEntry(entry);
      try {
        let chunk = reader.readNow();
        if (chunk === undefined) chunk = await reader.read();
        if (sink?.whole && (chunk ? chunk.length : 0) === entry.dataSize) {
          // The whole file in one piece: one record does all of it.
          if (chunk) rec?.data(chunk);
          sink.whole(chunk ?? EMPTY);
        } else {
          while (chunk) {
            rec?.data(chunk);
            sink?.data(chunk);
            chunk = reader.readNow();
            if (chunk === undefined) chunk = await reader.read();
          }
          sink?.end();
        }
      } catch (e) {
        sink?.abort();
        throw e;
      }
      rec?.endEntry();
      if (rec && rec.buffered >= FLUSH_AT) await options.split!(rec.take());
    }
    if (rec) {
      await recordEnd(reader, rec);
      await options.split!(rec.take());
    } else {
      // Drain what follows the end marker so the digests cover the whole stream.
      while (await reader.readRest()) {}
    }
    wq.drain();
    // Directory metadata last, deepest first: their children changed their mtimes.
    for (let i = dirs.length - 1; i >= 0; i--) applyDirMeta(dirs[i]!);
  } finally {
    wq.close();
    t.close();
    await reader.close();
  }
  return { entries, warnings };

  /**
   * A run of plain files at the reader's position, in one go (plain-batch.ts): each takes the
   * way extractEntry would give it (queueFile, or openFile on this thread when the queue is
   * behind: decided once per run), and the first one that might not (a name that is not
   * already a clean path, one made before, a parent this extraction did not make or has no fd
   * of at hand, a whiteout, an owner fchown cannot take) ends the run. Returns how many entries
   * were taken; 0 sends the next entry the ordinary way.
   */
  async function takePlain(batch: PlainBatch): Promise<number> {
    const n = await batch.scan(reader);
    if (n === 0) return 0;
    t.trim();
    // Queue behind: this thread creates the run's files itself (see extractEntry).
    const here = wq.backlog() >= wq.ringBytes / 4;
    // Files of a run are mostly in one directory: its checks are made once.
    let lastParentKey: string | undefined;
    let lastParent = -1;
    let k = 0;
    for (; k < n; k++) {
      const name = batch.name(k);
      let skip = 0;
      for (;;) {
        const c = name.charCodeAt(skip);
        if (c === 0x2f) skip++;
        else if (c === 0x2e && name.charCodeAt(skip + 1) === 0x2f) skip += 2;
        else break;
      }
      const key = skip === 0 ? name : name.slice(skip);
      if (key === "" || NOT_A_PATH.test(key)) break;
      const slash = key.lastIndexOf("/");
      const parentKey = slash < 0 ? "" : key.slice(0, slash);
      if (mode !== "keep" && key.startsWith(".wh.", slash + 1)) break;
      if (parentKey !== lastParentKey) {
        const fd = made.isDir(parentKey) ? t.cached(parentKey) : undefined;
        if (fd === undefined) break;
        lastParentKey = parentKey;
        lastParent = fd;
      }
      const parent = lastParent;
      const uid = batch.uid(k);
      const gid = batch.gid(k);
      if (sameOwner && (uid > 0xffffffff || gid > 0xffffffff)) break;
      // Last: a name made before (it may be in the queue still) goes the ordinary way.
      if (!made.addNew(key)) break;
      markCreatedKey(key);
      const m = batch.mode(k);
      const cmode = createMode(m);
      batch.decide(
        k,
        parent,
        skip,
        skip + slash + 1,
        cmode,
        finishFlags(m, cmode, ownerIsOurs(uid, gid)),
        here,
      );
    }
    if (k > 0) batch.commit(reader, k, wq, NEW_FILE, rec);
    return k;
  }

  /** markCreated for a path already joined (a key without empty, "." or ".." components). */
  function markCreatedKey(key: string): void {
    if (!created) return;
    for (let k = key; !created.has(k); ) {
      created.add(k);
      const slash = k.lastIndexOf("/");
      if (slash < 0) return;
      k = k.slice(0, slash);
    }
  }

  /** Remembers a path of this layer and its parents: whiteouts never hide them. */
  function markCreated(comps: Buffer[]): void {
    if (created && comps.length > 0) markCreatedKey(joinComponents(comps).toString("latin1"));
  }

  function applyDirMeta(d: DeferredDir): void {
    const path = joinComponents(d.comps);
    let fd: number;
    try {
      fd =
        d.comps.length === 0
          ? rootFd
          : openInRoot(rootFd, path, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
    } catch (e) {
      // A later entry replaced the directory (with a file or a symlink, or removed it): its
      // metadata went with it.
      if (ELOOP_LIKE.has(errCode(e)) || errCode(e) === "ENOENT") return;
      throw syscallError(`extract: open directory ${showPath(path)}`, e);
    }
    try {
      applyMeta(fd, d.header, path);
    } finally {
      if (fd !== rootFd) closeSync(fd);
    }
  }

  function applyMeta(fd: number, h: TarHeader, path: Buffer): void {
    try {
      if (sameOwner) fchownSync(fd, h.uid, h.gid);
      fchmodSync(fd, h.mode & 0o7777);
    } catch (e) {
      throw syscallError(`extract: set owner and mode of ${showPath(path)}`, e);
    }
    applyXattrs(fd, h, path);
    try {
      const at = h.atime ?? h.mtime;
      fsat().fsatUtimens(fd, "", at.sec, at.nsec, h.mtime.sec, h.mtime.nsec, 0);
    } catch (e) {
      throw syscallError(`extract: set times of ${showPath(path)}`, e);
    }
  }

  function applyXattrs(fd: number, h: TarHeader, path: Buffer): void {
    for (const [name, value] of h.xattrs) {
      try {
        fsat().fsatSetxattr(fd, name, value, 0);
      } catch (e) {
        const c = errCode(e);
        if (c === "EPERM" || c === "ENOTSUP" || c === "EOPNOTSUPP" || c === "EACCES") {
          warn(`extract: xattr ${name} on ${showPath(path)} refused: ${c}`);
        } else throw syscallError(`extract: set xattr ${name} on ${showPath(path)}`, e);
      }
    }
  }

  /** Creates the entry's inode; returns a data sink for regular files. */
  function extractEntry(entry: TarEntry): DataSink | undefined {
    const h = entry.header;
    t.trim();
    if (h.kind === "global" || h.kind === "volume" || h.kind === "other") {
      if (h.kind === "other")
        warn(
          `extract: skipped ${showPath(h.name)}: unsupported type ${String.fromCharCode(h.typeflag)}`,
        );
      return undefined;
    }
    const comps = memberComponents(h.name);
    if (comps === "dotdot") {
      warn(`extract: skipped ${showPath(h.name)}: member name contains ".."`);
      return undefined;
    }
    if (comps.length === 0) {
      if (h.kind === "directory") dirs.push({ comps, header: h });
      return undefined;
    }
    const parentComps = comps.slice(0, -1);
    const base = comps[comps.length - 1]!;

    if (mode !== "keep") {
      const wh = whiteoutOf(base);
      if (wh) {
        made.removed();
        applyWhiteout(parentComps, wh.kind === "opaque" ? undefined : wh.name);
        return undefined;
      }
    }
    const parent = t.dir(parentComps);
    markCreated(comps);
    const path = joinComponents(comps);
    const key = path.toString("latin1");
    const slash = key.lastIndexOf("/");
    const parentKey = slash < 0 ? "" : key.slice(0, slash);
    if (
      h.kind === "file" &&
      made.fresh &&
      // When the queue's thread is the slower one (creating files costs more on ext4 than on
      // tmpfs), this thread creates the file itself and only hands over its data and metadata.
      wq.backlog() < wq.ringBytes / 4 &&
      !made.has(key) &&
      made.isDir(parentKey) &&
      !h.sparse &&
      h.xattrs.size === 0 &&
      (!sameOwner || (h.uid <= 0xffffffff && h.gid <= 0xffffffff))
    ) {
      made.add(key, false);
      return queueFile(parent, base, path, h, entry.dataSize, ownerIsOurs(h.uid, h.gid));
    }
    // Decided before create(): a replaced entry makes the target no longer fresh.
    const ownerDone = made.fresh && made.isDir(parentKey) && ownerIsOurs(h.uid, h.gid);
    made.touch(key);
    made.add(key, h.kind === "directory");

    switch (h.kind) {
      case "directory": {
        const st = statAt(parent, base);
        if (st && (st.mode & S.IFMT) !== S.IFDIR) {
          replace(parent, base, path);
        }
        if (!st || (st.mode & S.IFMT) !== S.IFDIR) {
          try {
            fsat().fsatMkdir(parent, base, 0o700);
          } catch (e) {
            throw syscallError(`extract: create directory ${showPath(path)}`, e);
          }
        }
        dirs.push({ comps, header: h });
        return undefined;
      }
      case "file":
        return openFile(parent, base, path, h, ownerDone);
      case "symlink": {
        create(parent, base, path, () => fsat().fsatSymlink(h.linkname, parent, base));
        try {
          if (sameOwner) fsat().fsatChown(parent, base, h.uid, h.gid, AT.SYMLINK_NOFOLLOW);
          if (h.xattrs.size > 0) {
            const fd = fsat().fsatOpen(parent, base, O.PATH | O.NOFOLLOW, 0, SINGLE);
            try {
              applyXattrs(fd, h, path);
            } finally {
              closeSync(fd);
            }
          }
          const at = h.atime ?? h.mtime;
          fsat().fsatUtimens(
            parent,
            base,
            at.sec,
            at.nsec,
            h.mtime.sec,
            h.mtime.nsec,
            AT.SYMLINK_NOFOLLOW,
          );
        } catch (e) {
          if (e instanceof HoodError) throw e;
          throw syscallError(`extract: set metadata of symlink ${showPath(path)}`, e);
        }
        return undefined;
      }
      case "hardlink": {
        // Its target may be a file the queue has yet to create.
        settle();
        const tcomps = memberComponents(h.linkname);
        if (tcomps === "dotdot" || tcomps.length === 0) {
          warn(`extract: skipped hardlink ${showPath(path)}: bad target ${showPath(h.linkname)}`);
          return undefined;
        }
        const tparent = t.dir(tcomps.slice(0, -1));
        const tbase = tcomps[tcomps.length - 1]!;
        const tst = statAt(tparent, tbase);
        if (!tst) {
          throw new HoodError(
            `extract: hardlink ${showPath(path)}: target ${showPath(h.linkname)} does not exist in the archive`,
            "ENOENT",
          );
        }
        if ((tst.mode & S.IFMT) === S.IFDIR) {
          throw new HoodError(`extract: hardlink ${showPath(path)} to a directory`, "EPERM");
        }
        // A hardlink to itself (some writers emit it) is a no-op.
        const here = statAt(parent, base);
        if (
          here &&
          here.ino === tst.ino &&
          here.devMajor === tst.devMajor &&
          here.devMinor === tst.devMinor
        ) {
          return undefined;
        }
        // flags 0: a symlink target is linked as the symlink itself, never followed.
        create(parent, base, path, () => fsat().fsatLink(tparent, tbase, parent, base, 0));
        return undefined;
      }
      case "char":
      case "block":
      case "fifo": {
        const type = h.kind === "char" ? S.IFCHR : h.kind === "block" ? S.IFBLK : S.IFIFO;
        if (type !== S.IFIFO && !canMknod) {
          warn(`extract: skipped device ${showPath(path)}: no CAP_MKNOD`);
          return undefined;
        }
        try {
          create(parent, base, path, () =>
            fsat().fsatMknod(parent, base, type | (h.mode & 0o7777), h.devmajor, h.devminor),
          );
        } catch (e) {
          if (errCode(e) === "EPERM" && type !== S.IFIFO) {
            canMknod = false;
            warn(`extract: skipped device ${showPath(path)}: no CAP_MKNOD`);
            return undefined;
          }
          throw e;
        }
        const fd = fsat().fsatOpen(parent, base, O.PATH | O.NOFOLLOW, 0, SINGLE);
        try {
          if (sameOwner) fsat().fsatChown(fd, "", h.uid, h.gid, AT.EMPTY_PATH);
          applyXattrs(fd, h, path);
          const at = h.atime ?? h.mtime;
          fsat().fsatUtimens(
            parent,
            base,
            at.sec,
            at.nsec,
            h.mtime.sec,
            h.mtime.nsec,
            AT.SYMLINK_NOFOLLOW,
          );
        } catch (e) {
          if (e instanceof HoodError) throw e;
          throw syscallError(`extract: set metadata of ${showPath(path)}`, e);
        } finally {
          closeSync(fd);
        }
        return undefined;
      }
    }
    return undefined;
  }

  /** Runs a create call; an existing entry in the way is removed first (never followed). */
  function create(parent: number, base: Buffer, path: Buffer, make: () => void): void {
    try {
      make();
      return;
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw syscallError(`extract: create ${showPath(path)}`, e);
    }
    replace(parent, base, path);
    try {
      make();
    } catch (e) {
      throw syscallError(`extract: create ${showPath(path)}`, e);
    }
  }

  function replace(parent: number, base: Buffer, path: Buffer): void {
    made.removed();
    try {
      removeAt(parent, base);
    } catch (e) {
      throw syscallError(`extract: remove ${showPath(path)} to replace it`, e);
    }
    t.forget(path.toString("latin1"));
  }

  /** True when a file made in a directory of this extraction already has this owner. */
  function ownerIsOurs(uid: number, gid: number): boolean {
    return uid === euid && gid === egid && rootGid === egid;
  }

  /** The mode to create a file with: its final one when that needs no fchmod, else 0600. */
  function createMode(mode: number): number {
    const m = mode & 0o7777;
    return (m & 0o7000) === 0 && (m & umask) === 0 ? m : 0o600;
  }

  /** What the write queue does after a file's data: owner, mode (unless created with it), times. */
  function finishFlags(mode: number, cmode: number, ownerDone: boolean): number {
    return (
      (sameOwner && !ownerDone ? FINISH.CHOWN : 0) |
      (cmode === (mode & 0o7777) ? FINISH.TIMES : FINISH.META)
    );
  }

  function timesOf(h: TarHeader): FileTimes {
    return { atime: h.atime ?? h.mtime, mtime: h.mtime };
  }

  /**
   * A file made entirely on the queue's thread: create, data, owner, mode, times, close. A
   * small one whose data comes in one piece is one record (`whole`).
   */
  function queueFile(
    parent: number,
    base: Buffer,
    path: Buffer,
    h: TarHeader,
    dataSize: number,
    ownerDone: boolean,
  ): DataSink {
    const cmode = createMode(h.mode);
    const flags = finishFlags(h.mode, cmode, ownerDone);
    let started = false;
    const start = () => {
      started = true;
      wq.create(parent, base, NEW_FILE, cmode);
    };
    return {
      whole:
        dataSize <= FILE_MAX
          ? (data: Buffer) =>
              wq.file(
                parent,
                base,
                NEW_FILE,
                cmode,
                data,
                path,
                flags,
                h.uid,
                h.gid,
                h.mode & 0o7777,
                timesOf(h),
              )
          : undefined,
      data(chunk: Buffer) {
        if (!started) start();
        wq.write(CURRENT, chunk);
      },
      end() {
        if (!started) start();
        wq.finish(
          CURRENT,
          path,
          flags,
          { uid: h.uid, gid: h.gid, mode: h.mode & 0o7777 },
          timesOf(h),
        );
      },
      abort() {
        if (!started) return;
        try {
          wq.finish(CURRENT, path, 0);
        } catch {
          // the error that made us give up is the one to report
        }
      },
    };
  }

  function openFile(
    parent: number,
    base: Buffer,
    path: Buffer,
    h: TarHeader,
    ownerDone: boolean,
  ): DataSink {
    let fd = -1;
    const cmode = createMode(h.mode);
    const open = () => {
      fd = fsat().fsatOpen(parent, base, NEW_FILE, cmode, SINGLE);
    };
    create(parent, base, path, open);
    const sparse = h.sparse;
    let region = 0;
    let inRegion = 0;
    return {
      data(chunk: Buffer) {
        if (!sparse) {
          wq.write(fd, chunk);
          return;
        }
        // Packed sparse data: each fragment goes to its offset, holes stay holes.
        let off = 0;
        while (off < chunk.length) {
          const r = sparse.map[region]!;
          const n = Math.min(r.length - inRegion, chunk.length - off);
          wq.write(fd, chunk.subarray(off, off + n), r.offset + inRegion);
          off += n;
          inRegion += n;
          if (inRegion === r.length) {
            region++;
            inRegion = 0;
          }
        }
      },
      end() {
        const owned = sameOwner && h.uid <= 0xffffffff && h.gid <= 0xffffffff;
        if (sameOwner && !owned) {
          // Out of fchown's range: the synchronous path reports it as before.
          try {
            wq.finish(
              fd,
              path,
              FINISH.KEEP_OPEN | (sparse ? FINISH.TRUNCATE : 0),
              undefined,
              undefined,
              sparse?.realSize,
            );
            applyMeta(fd, h, path);
          } finally {
            closeSync(fd);
          }
          return;
        }
        const keep = h.xattrs.size > 0;
        const flags = (sparse ? FINISH.TRUNCATE : 0) | finishFlags(h.mode, cmode, ownerDone);
        if (!keep) {
          wq.finish(
            fd,
            path,
            flags,
            { uid: h.uid, gid: h.gid, mode: h.mode & 0o7777 },
            { atime: h.atime ?? h.mtime, mtime: h.mtime },
            sparse?.realSize ?? 0,
          );
          return;
        }
        // Xattrs after chown (which clears security.capability); they leave mtime alone.
        try {
          wq.finish(
            fd,
            path,
            flags | FINISH.KEEP_OPEN,
            { uid: h.uid, gid: h.gid, mode: h.mode & 0o7777 },
            { atime: h.atime ?? h.mtime, mtime: h.mtime },
            sparse?.realSize ?? 0,
          );
          applyXattrs(fd, h, path);
        } finally {
          closeSync(fd);
        }
      },
      abort() {
        try {
          wq.finish(fd, path, 0);
        } catch {
          // the error that made us give up is the one to report
        }
      },
    };
  }

  function applyWhiteout(parentComps: Buffer[], name: Buffer | undefined): void {
    const parent = t.dir(parentComps);
    const parentKey = joinComponents(parentComps).toString("latin1");
    if (mode === "overlay") {
      if (name === undefined) {
        const fd = openInRoot(rootFd, joinComponents(parentComps), O.RDONLY | O.DIRECTORY);
        try {
          fsat().fsatSetxattr(
            fd,
            overlayOpaqueXattr(options.rootless ?? false),
            Buffer.from("y"),
            0,
          );
        } catch (e) {
          throw syscallError(`extract: mark ${showPath(joinComponents(parentComps))} opaque`, e);
        } finally {
          closeSync(fd);
        }
        return;
      }
      const path = joinComponents([...parentComps, name]);
      try {
        create(parent, name, path, () => fsat().fsatMknod(parent, name, S.IFCHR, 0, 0));
      } catch (e) {
        if (errCode((e as HoodError).cause) === "EPERM" || errCode(e) === "EPERM") {
          throw new HoodError(
            `extract: whiteout ${showPath(path)} needs CAP_MKNOD for overlay's 0:0 device`,
            "EPERM",
            { cause: e },
          );
        }
        throw e;
      }
      return;
    }
    // "apply": remove what the lower layers have; entries of this layer stay.
    const prefix = parentKey === "" ? "" : `${parentKey}/`;
    if (name !== undefined) {
      if (created!.has(prefix + name.toString("latin1"))) return;
      try {
        removeAt(parent, name);
        t.forget(prefix + name.toString("latin1"));
      } catch (e) {
        if (!ELOOP_LIKE.has(errCode(e))) {
          throw syscallError(
            `extract: apply whiteout for ${showPath(Buffer.from(prefix + name.toString("latin1"), "latin1"))}`,
            e,
          );
        }
      }
      return;
    }
    const fd = openInRoot(rootFd, joinComponents(parentComps), O.RDONLY | O.DIRECTORY);
    try {
      for (const [child] of fsat().fsatReaddir(fd)) {
        const k = prefix + child.toString("latin1");
        if (!created!.has(k)) {
          removeAt(fd, child);
          t.forget(k);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

interface DataSink {
  /** When set: takes the whole data section at once, instead of data() calls and end(). */
  whole?: (data: Buffer) => void;
  data(chunk: Buffer): void;
  /** The data is all there: queue the file's metadata and its close. */
  end(): void;
  /** Extraction stopped inside this file's data: just close it. */
  abort(): void;
}
