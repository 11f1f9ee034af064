/**
 * seccomp return values (SECCOMP_RET_*) and the OCI action names that produce them.
 */

export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

/** OCI / libseccomp action names hood accepts. */
export const ACTION_NAMES = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
] as const;

export type ActionName = (typeof ACTION_NAMES)[number];

export function isActionName(s: unknown): s is ActionName {
  return typeof s === "string" && (ACTION_NAMES as readonly string[]).includes(s);
}

/** The actions that take errnoRet (as runc and crun do). */
export function takesErrno(name: ActionName): boolean {
  return name === "SCMP_ACT_ERRNO" || name === "SCMP_ACT_TRACE";
}

/**
 * The 32-bit value a filter returns for an action. errnoRet defaults to EPERM for ERRNO and
 * TRACE, like runc.
 */
export function actionValue(name: ActionName, errnoRet?: number): number {
  const data = (errnoRet ?? 1) & SECCOMP_RET_DATA;
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET.TRAP;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET.ERRNO | data) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET.TRACE | data) >>> 0;
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET.ALLOW;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET.LOG;
    case "SCMP_ACT_NOTIFY":
      return SECCOMP_RET.USER_NOTIF;
  }
}

/** "ALLOW", "ERRNO(1)", "TRACE(7)", "KILL_PROCESS"; unknown values as the kernel treats them. */
export function describeAction(value: number): string {
  const v = value >>> 0;
  const action = (v & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = v & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET.KILL_PROCESS:
      return "KILL_PROCESS";
    case SECCOMP_RET.KILL_THREAD:
      return "KILL_THREAD";
    case SECCOMP_RET.TRAP:
      return data ? `TRAP(${data})` : "TRAP";
    case SECCOMP_RET.ERRNO:
      return `ERRNO(${data})`;
    case SECCOMP_RET.USER_NOTIF:
      return "USER_NOTIF";
    case SECCOMP_RET.TRACE:
      return `TRACE(${data})`;
    case SECCOMP_RET.LOG:
      return "LOG";
    case SECCOMP_RET.ALLOW:
      return "ALLOW";
    default:
      return `0x${v.toString(16).padStart(8, "0")} (unknown: the kernel kills the process)`;
  }
}

/** Actions that let the call run; runc gives no ENOSYS stub when the default is one of them. */
export function isPermissive(value: number): boolean {
  const action = (value & SECCOMP_RET_ACTION_FULL) >>> 0;
  return action === SECCOMP_RET.ALLOW || action === SECCOMP_RET.LOG || action === SECCOMP_RET.TRACE;
}
