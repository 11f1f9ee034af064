/**
 * One error type for everything a person may see. The message says what was being done,
 * on which path or field, and the errno name: `mount "proc" on "/proc": EPERM (operation not permitted)`.
 */
import { constants } from "node:os";

export class HoodError extends Error {
  /** The errno name when a syscall failed ("EPERM"), else a stable hood code ("INVALID_SPEC"). */
  readonly code: string;

  constructor(message: string, code = "HOOD", options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HoodError";
    this.code = code;
  }
}

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** Lower-case descriptions for the errnos a container runtime meets most. */
const errnoText: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  ENXIO: "no such device or address",
  E2BIG: "argument list too long",
  ENOEXEC: "exec format error",
  EBADF: "bad file descriptor",
  ECHILD: "no child processes",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  EXDEV: "invalid cross-device link",
  ENODEV: "no such device",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  ENFILE: "too many open files in system",
  EMFILE: "too many open files",
  ENOTTY: "inappropriate ioctl for device",
  ETXTBSY: "text file busy",
  EFBIG: "file too large",
  ENOSPC: "no space left on device",
  ESPIPE: "illegal seek",
  EROFS: "read-only file system",
  EMLINK: "too many links",
  EPIPE: "broken pipe",
  ERANGE: "numerical result out of range",
  ENAMETOOLONG: "file name too long",
  ENOSYS: "function not implemented",
  ENOTEMPTY: "directory not empty",
  ELOOP: "too many levels of symbolic links",
  EOPNOTSUPP: "operation not supported",
  ENOTSUP: "operation not supported",
  ECONNREFUSED: "connection refused",
  EUSERS: "too many users",
  ENOTSOCK: "socket operation on non-socket",
  EOVERFLOW: "value too large for defined data type",
};

/** "EPERM" for 1; "E<n>" when the platform does not name it. */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** "EPERM (operation not permitted)". */
export function describeErrno(errnoOrName: number | string): string {
  const name = typeof errnoOrName === "number" ? errnoName(errnoOrName) : errnoOrName;
  const text = errnoText[name];
  return text ? `${name} (${text})` : name;
}

/** Wraps a failed syscall (a Node or addon error with an errno code) into a HoodError. */
export function syscallError(doing: string, err: unknown): HoodError {
  const e = err as { code?: string; errno?: number; message?: string };
  const code = typeof e?.code === "string" ? e.code : "EIO";
  if (/^E[A-Z0-9]+$/.test(code)) {
    return new HoodError(`${doing}: ${describeErrno(code)}`, code, { cause: err });
  }
  return new HoodError(`${doing}: ${e?.message ?? String(err)}`, code, { cause: err });
}
