/**
 * Loads hood's Node-API addon and the executor binary built by `npm ci` (node-gyp).
 * Every function here is a thin syscall wrapper: it throws a `SyscallError` (errno name in
 * `code`) and holds no policy.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface SpawnOptions {
  /** clone3 flags: CLONE_NEW* bits (CLONE_PIDFD is always added). A bigint: some bits are above 31. */
  flags: bigint;
  /** An fd of a cgroup2 directory for CLONE_INTO_CGROUP, or -1. */
  cgroupFd: number;
  /** The child's end of the sync socketpair; the executor finds it in argv[1]. */
  syncFd: number;
  /** The sealed memfd holding the executor. */
  executorFd: number;
  /** Fds the child keeps open across its exec of the executor (close-on-exec is cleared). */
  passFds: number[];
  /** The fds that become the child's 0, 1, 2 (dup3, or close-on-exec cleared when equal). */
  stdio: [number, number, number];
}

export interface ExitStatus {
  /** The exit code, or null when killed by a signal. */
  code: number | null;
  /** The signal number that killed the process, or null. */
  signal: number | null;
}

export interface Message {
  data: Buffer;
  fds: number[];
}

export interface NativeAddon {
  /**
   * clone3 the executor child as described in docs/ARCHITECTURE.md; returns its pid and pidfd.
   * Before it waits for the start byte the child closes every fd but 0-2, `syncFd`,
   * `executorFd` and `passFds`, so closing the parent's end (or node dying) reads as
   * end-of-file and the child exits 127. A failure before the executor runs arrives as
   * ERROR(step -1, errno) on the sync socket, with exit status 127.
   */
  spawn(options: SpawnOptions): { pid: number; pidfd: number };
  /** socketpair(AF_UNIX, type | SOCK_CLOEXEC); type 1 = SOCK_STREAM, 5 = SOCK_SEQPACKET. */
  socketpair(type: number): [number, number];
  /** sendmsg with optional SCM_RIGHTS fds and MSG_NOSIGNAL; returns bytes sent. */
  sendMsg(fd: number, data: Uint8Array, fds: number[]): number;
  /**
   * recvmsg with MSG_DONTWAIT | MSG_CMSG_CLOEXEC; null when it would block; data.length 0 at EOF.
   * Throws EMSGSIZE (closing any fds that came) when the message or its fds were cut short.
   * When the peer exited with a message of ours unread, one call throws ECONNRESET and
   * later calls still return the messages queued before it.
   */
  recvMsg(fd: number, maxBytes: number, maxFds: number): Message | null;
  /**
   * Resolves when fd is readable, hung up or in error (the next read tells which), through a
   * uv_poll handle that is closed once it fires. One wait per fd at a time (libuv's rule).
   */
  waitReadable(fd: number): Promise<void>;
  /**
   * Resolves with the index of the first fd that becomes readable (or hung up). Every poll of
   * the group is closed when it settles, so any of the fds may be closed right after.
   */
  waitAnyReadable(fds: number[]): Promise<number>;
  /** pidfd_open(pid, 0). */
  pidfdOpen(pid: number): number;
  /** pidfd_send_signal(pidfd, signal, NULL, 0). */
  pidfdSendSignal(pidfd: number, signal: number): void;
  /** Resolves with the exit status of a child once it exits (uv_poll + waitid(P_PIDFD)). */
  pidfdWait(pidfd: number): Promise<ExitStatus>;
  /** waitid(P_PIDFD, WEXITED | WNOHANG): the status if the child has exited, else null. */
  pidfdTryWait(pidfd: number): ExitStatus | null;
  /** A sealed, executable memfd with the file's contents (MFD_CLOEXEC | MFD_EXEC | MFD_ALLOW_SEALING). */
  memfdFromFile(path: string, name: string): number;
  /** flock(fd, operation); operation uses LOCK_SH=1, LOCK_EX=2, LOCK_NB=4, LOCK_UN=8. */
  flock(fd: number, operation: number): void;
  /** openat2(dirfd, path, {flags | O_CLOEXEC, mode, resolve}); dirfd -100 is AT_FDCWD. */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** A blocking connect to a unix stream socket path; returns the fd (close-on-exec). */
  unixConnect(path: string): number;
  /** Clears or sets FD_CLOEXEC. */
  setCloexec(fd: number, on: boolean): void;
  /** mkfifo(path, mode). */
  mkfifo(path: string, mode: number): void;
  /** The errno name (e.g. "EPERM") and strerror text for a number. */
  errnoName(errno: number): { name: string; message: string };
  /** Other parts of the addon register their functions on the same object. */
  [name: string]: unknown;
}

/** A failed syscall: `code` is the errno name, `errno` the number, `syscall` what was called. */
export interface SyscallError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** open(2) flags hood passes to openat2 (Node's fs.constants lacks O_PATH). */
export const OPEN = {
  RDONLY: 0,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

let cached: NativeAddon | undefined;

let packageRootDir: string | undefined;

/** The package root: this file is src/native/addon.ts, or the bundle dist/hood.cjs. */
export function packageRoot(): string {
  if (packageRootDir !== undefined) return packageRootDir;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "binding.gyp"))) {
      packageRootDir = dir;
      return dir;
    }
    dir = dirname(dir);
  }
  throw new Error(`Cannot find hood's package root above ${fileURLToPath(import.meta.url)}`);
}

export function executorPath(): string {
  return join(packageRoot(), "build", "Release", "hood-executor");
}

/** Loads the addon once; explains what to run when it is missing or was built for another Node. */
export function addon(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const path = join(root, "build", "Release", "hood_native.node");
  if (!existsSync(path)) {
    throw new Error(
      `Cannot load hood's native addon: ${path} does not exist. ` +
        `Build it with \`npm ci\` (or \`npx node-gyp rebuild\`) in ${root}; ` +
        "it needs python3, make and a C compiler.",
    );
  }
  try {
    // process.dlopen, not require: the path is known, and require's resolution (stat and
    // realpath of each part) is a measurable part of a container's start.
    const module = { exports: {} as NativeAddon };
    process.dlopen(module, path);
    cached = module.exports;
  } catch (e) {
    throw new Error(
      `Cannot load hood's native addon ${path}: ${(e as Error).message}. ` +
        `If it was built for another Node.js (this is ${process.version}, ABI ${process.versions.modules}), ` +
        `rebuild it with \`npx node-gyp rebuild\` in ${root}.`,
    );
  }
  return cached;
}

/**
 * One function of the addon that a portable version can stand in for (the codec's CRC-64 and
 * header scan): the function, or null when the addon, or that function in an older build of
 * it, is missing. Looked up once per name.
 */
export function optionalNative<F>(name: string): F | null {
  if (!optional.has(name)) {
    let fn: unknown = null;
    try {
      fn = (addon() as unknown as Record<string, unknown>)[name];
    } catch {
      // no addon: the portable path
    }
    optional.set(name, typeof fn === "function" ? fn : null);
  }
  return optional.get(name) as F | null;
}

const optional = new Map<string, unknown>();
