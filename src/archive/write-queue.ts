/**
 * Extraction's background writer: the addon's write queue (native/addon/fsat.c) writes file
 * data and applies each file's final owner, mode and times on its own thread, in queue order,
 * while the JS thread reads, hashes and parses the next entries and creates the next files.
 * A queue can also compute a SHA-256 on its thread (sha256.ts uses one per digest).
 * Pieces under 64 KiB are copied into the queue; larger ones, and the small files of a
 * plain-batch commit, are held by reference until written or hashed, so a caller must not
 * change a buffer it passed (the tar reader's sources never reuse theirs). Bytes, references
 * and files in flight are bounded and a full queue blocks the caller. Once an fd is handed to
 * the queue only the queue closes it (`finish`), so an fd number is never reused under a
 * pending write.
 * The first error is sticky: every later call throws it.
 */
import { syscallError } from "../errors.ts";
import { fsat, type WriteQueueHandle } from "./fsat.ts";

/** What `finish` does after the data, in this order; without KEEP_OPEN it then closes. */
export const FINISH = {
  /** ftruncate to `size` (a sparse file's holes at its end). */
  TRUNCATE: 2,
  CHOWN: 1,
  /** fchmod, then utimensat. */
  META: 4,
  /** utimensat only (the file was created with its final mode). */
  TIMES: 32,
  /** Leave the fd open and wait until the queue is idle: the caller goes on with it. */
  KEEP_OPEN: 8,
} as const;

/** What each syscall of the writer was doing, for messages. */
const DOING: Record<string, string> = {
  openat: "create",
  write: "write",
  ftruncate: "truncate",
  fchown: "set owner of",
  fchmod: "set mode of",
  utimensat: "set times of",
  close: "close",
};

/** The largest file `file()` takes (its data is copied into the ring). */
export const FILE_MAX = 64 << 10;

/** The fd of the file the last `create` made (the queue's thread knows it, not the caller). */
export const CURRENT = -2;

export interface FileTimes {
  atime: { sec: number; nsec: number };
  mtime: { sec: number; nsec: number };
}

const NO_TIME = { sec: 0, nsec: 0 };

export class WriteQueue {
  private readonly q: WriteQueueHandle;
  private closed = false;

  /** `what` starts error messages ("extract"). */
  constructor(
    private readonly what: string,
    readonly ringBytes = 8 << 20,
    maxFiles = 512,
  ) {
    this.q = fsat().wqCreate(ringBytes, maxFiles);
  }

  private wrap(e: unknown): unknown {
    const err = e as { syscall?: string; path?: string; code?: string };
    if (typeof err?.syscall !== "string" || typeof err.code !== "string") return e;
    const doing = DOING[err.syscall] ?? err.syscall;
    return syscallError(`${this.what}: ${doing} ${JSON.stringify(err.path ?? "")}`, e);
  }

  /**
   * Queues the creation of `name` in `dirFd` (openat with `flags`, `mode`); later `write` and
   * `finish` calls with fd CURRENT mean that file. `dirFd` must stay open until `drain()`.
   */
  create(dirFd: number, name: Uint8Array, flags: number, mode: number): void {
    try {
      fsat().wqCreateFile(this.q, dirFd, name, flags, mode);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Queues `data` for `fd` at `offset` (-1: where the previous write ended). */
  write(fd: number, data: Uint8Array, offset = -1): void {
    try {
      fsat().wqWrite(this.q, fd, data, offset);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /**
   * Queues the end of fd's file: the `flags` steps, then close (unless KEEP_OPEN). Must be
   * called once for every fd handed to `write`, also when giving up on it (flags 0).
   */
  finish(
    fd: number,
    path: Uint8Array,
    flags: number,
    owner: { uid: number; gid: number; mode: number } = { uid: 0, gid: 0, mode: 0 },
    times: FileTimes = { atime: NO_TIME, mtime: NO_TIME },
    size = 0,
  ): void {
    try {
      fsat().wqFinish(
        this.q,
        fd,
        path,
        flags,
        owner.uid,
        owner.gid,
        owner.mode,
        times.atime.sec,
        times.atime.nsec,
        times.mtime.sec,
        times.mtime.nsec,
        size,
      );
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /**
   * Queues a whole small file as one record (its data copied, so at most `FILE_MAX` bytes):
   * openat(`dirFd`, `name`, `openFlags`, `createMode`), write `data`, the `flags` steps
   * (CHOWN, META, TIMES), close. `dirFd` must stay open until `drain()`.
   */
  file(
    dirFd: number,
    name: Uint8Array,
    openFlags: number,
    createMode: number,
    data: Uint8Array,
    path: Uint8Array,
    flags: number,
    uid: number,
    gid: number,
    mode: number,
    times: FileTimes,
  ): void {
    try {
      fsat().wqFile(
        this.q,
        dirFd,
        name,
        openFlags,
        createMode,
        data,
        path,
        flags,
        uid,
        gid,
        mode,
        times.atime.sec,
        times.atime.nsec,
        times.mtime.sec,
        times.mtime.nsec,
      );
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** The addon's handle, for addon calls that queue records themselves (plain-batch.ts). */
  get handle(): WriteQueueHandle {
    return this.q;
  }

  /** Runs `fn`, an addon call that queues records, with this queue's error messages. */
  batch<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Queues `data` for the queue's SHA-256 (of everything hashed since the last digest). */
  hash(data: Uint8Array): void {
    try {
      fsat().wqHash(this.q, data);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Waits for the queued data; the SHA-256 of it, and a fresh start. */
  digest(): Buffer {
    try {
      return fsat().wqDigest(this.q);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Bytes queued and not yet run (a busy thread). */
  backlog(): number {
    return fsat().wqBacklog(this.q);
  }

  /** Waits until everything queued is written; throws the first error. */
  drain(): void {
    try {
      fsat().wqDrain(this.q);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Finishes what is queued (closing every fd it holds) and stops the thread; never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    fsat().wqClose(this.q);
  }
}
