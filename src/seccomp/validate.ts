/**
 * Checks a seccomp profile (OCI `linux.seccomp` or a Docker profile file) and reports every
 * problem at once, each with its JSON path. Unknown syscall names are not problems: the
 * compiler skips them with a warning, as runc does.
 */
import { ACTION_NAMES, isActionName } from "./actions.ts";
import { findArch, KNOWN_WITHOUT_TABLE } from "./arches.ts";
import { PROFILE_FLAGS } from "./flags.ts";
import { OPERATOR_NAMES } from "./profile.ts";

const UINT64_LIMIT = 2 ** 64;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function json(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

/** A uint64 as JSON gives it (a double; 2^64 is how 2^64 - 1 arrives) or a bigint. */
function checkUint64(p: Problems, path: string, v: unknown): void {
  if (typeof v === "bigint") {
    if (v < 0n || v >= 2n ** 64n) p.add(path, `${v} is not a uint64`);
    return;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > UINT64_LIMIT) {
    p.add(path, `must be an integer from 0 to 2^64-1, got ${json(v)}`);
  }
}

function checkErrno(p: Problems, path: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    p.add(path, `must be an integer from 0 to 65535 (the filter's 16-bit data), got ${json(v)}`);
  }
}

function checkStringArray(
  p: Problems,
  path: string,
  v: unknown,
  each?: (s: string, at: string) => void,
): void {
  if (!Array.isArray(v)) {
    p.add(path, `must be an array of strings, got ${json(v)}`);
    return;
  }
  v.forEach((s, i) => {
    if (typeof s !== "string") p.add(`${path}[${i}]`, `must be a string, got ${json(s)}`);
    else each?.(s, `${path}[${i}]`);
  });
}

function checkArchName(p: Problems, path: string, s: string): void {
  if (!s.startsWith("SCMP_ARCH_") || (!findArch(s) && !KNOWN_WITHOUT_TABLE.has(s))) {
    p.add(path, `unknown architecture ${json(s)}`);
  }
}

function checkAction(p: Problems, o: Obj, path: string, errnoKey: string): void {
  const action = o[path.endsWith("defaultAction") ? "defaultAction" : "action"];
  if (action === undefined) {
    p.add(path, "is required");
  } else if (!isActionName(action)) {
    p.add(path, `unknown action ${json(action)} (known: ${ACTION_NAMES.join(", ")})`);
  }
  const errnoPath = `${path.slice(0, path.lastIndexOf("."))}.${errnoKey}`;
  if (o[errnoKey] !== undefined) {
    checkErrno(p, errnoPath, o[errnoKey]);
    if (isActionName(action) && action !== "SCMP_ACT_ERRNO" && action !== "SCMP_ACT_TRACE") {
      p.add(errnoPath, `is only meaningful for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not ${action}`);
    }
  }
}

function checkDockerFilter(p: Problems, path: string, v: unknown): void {
  if (!isObject(v)) {
    p.add(path, `must be an object, got ${json(v)}`);
    return;
  }
  if (v.arches !== undefined) checkStringArray(p, `${path}.arches`, v.arches);
  if (v.caps !== undefined) checkStringArray(p, `${path}.caps`, v.caps);
  if (v.minKernel !== undefined) {
    if (typeof v.minKernel !== "string" || !/^\d+\.\d+(\.\d+)?$/.test(v.minKernel)) {
      p.add(`${path}.minKernel`, `must be a kernel version like "4.8", got ${json(v.minKernel)}`);
    }
  }
}

function checkArg(p: Problems, path: string, a: unknown): void {
  if (!isObject(a)) {
    p.add(path, `must be an object, got ${json(a)}`);
    return;
  }
  if (a.index === undefined) p.add(`${path}.index`, "is required");
  else if (
    typeof a.index !== "number" ||
    !Number.isInteger(a.index) ||
    a.index < 0 ||
    a.index > 5
  ) {
    p.add(`${path}.index`, `must be an argument index from 0 to 5, got ${json(a.index)}`);
  }
  if (a.value === undefined) p.add(`${path}.value`, "is required");
  else checkUint64(p, `${path}.value`, a.value);
  if (a.valueTwo !== undefined) checkUint64(p, `${path}.valueTwo`, a.valueTwo);
  if (a.op === undefined) p.add(`${path}.op`, "is required");
  else if (typeof a.op !== "string" || !(OPERATOR_NAMES as readonly string[]).includes(a.op)) {
    p.add(`${path}.op`, `unknown operator ${json(a.op)} (known: ${OPERATOR_NAMES.join(", ")})`);
  }
}

function syscallNames(s: Obj): string[] {
  const names = Array.isArray(s.names) ? s.names : [];
  const all = typeof s.name === "string" ? [s.name, ...names] : names;
  return all.filter((n): n is string => typeof n === "string");
}

function checkSyscall(p: Problems, path: string, s: unknown): void {
  if (!isObject(s)) {
    p.add(path, `must be an object, got ${json(s)}`);
    return;
  }
  if (s.name !== undefined && s.names !== undefined) {
    p.add(path, `use either "name" or "names", not both`);
  }
  if (s.name !== undefined) {
    if (typeof s.name !== "string" || s.name === "") {
      p.add(`${path}.name`, `must be a syscall name, got ${json(s.name)}`);
    }
  } else if (s.names === undefined) {
    p.add(`${path}.names`, "is required");
  } else {
    checkStringArray(p, `${path}.names`, s.names, (n, at) => {
      if (n === "") p.add(at, "must not be empty");
    });
    if (Array.isArray(s.names) && s.names.length === 0) {
      p.add(`${path}.names`, "must name at least one syscall");
    }
  }
  checkAction(p, s, `${path}.action`, "errnoRet");
  if (s.action === "SCMP_ACT_NOTIFY" && syscallNames(s).includes("write")) {
    // As in runc: the runtime itself writes after loading the filter and would hang.
    p.add(`${path}.action`, "SCMP_ACT_NOTIFY cannot be used for the write syscall");
  }
  if (s.args !== undefined && s.args !== null) {
    if (!Array.isArray(s.args)) p.add(`${path}.args`, `must be an array, got ${json(s.args)}`);
    else {
      s.args.forEach((a, i) => {
        checkArg(p, `${path}.args[${i}]`, a);
      });
    }
  }
  if (s.comment !== undefined && typeof s.comment !== "string") {
    p.add(`${path}.comment`, `must be a string, got ${json(s.comment)}`);
  }
  if (s.includes !== undefined) checkDockerFilter(p, `${path}.includes`, s.includes);
  if (s.excludes !== undefined) checkDockerFilter(p, `${path}.excludes`, s.excludes);
}

/**
 * Every problem in a seccomp profile, as "path: message". `base` is the JSON path of the
 * profile itself ("linux.seccomp" inside a config.json).
 */
export function validateSeccomp(spec: unknown, base = "linux.seccomp"): string[] {
  const p = new Problems();
  if (!isObject(spec)) {
    p.add(base, `must be an object, got ${json(spec)}`);
    return p.list;
  }
  checkAction(p, spec, `${base}.defaultAction`, "defaultErrnoRet");
  if (spec.defaultAction === "SCMP_ACT_NOTIFY") {
    p.add(`${base}.defaultAction`, "SCMP_ACT_NOTIFY cannot be the default action");
  }
  if (spec.architectures !== undefined && spec.architectures !== null) {
    checkStringArray(p, `${base}.architectures`, spec.architectures, (s, at) =>
      checkArchName(p, at, s),
    );
  }
  if (spec.archMap !== undefined && spec.archMap !== null) {
    if (Array.isArray(spec.architectures) && spec.architectures.length > 0) {
      p.add(`${base}.archMap`, `cannot be used together with "architectures"`);
    }
    if (!Array.isArray(spec.archMap)) {
      p.add(`${base}.archMap`, `must be an array, got ${json(spec.archMap)}`);
    } else {
      spec.archMap.forEach((m, i) => {
        const at = `${base}.archMap[${i}]`;
        if (!isObject(m)) {
          p.add(at, `must be an object, got ${json(m)}`);
          return;
        }
        if (typeof m.architecture !== "string") {
          p.add(`${at}.architecture`, `must be a string, got ${json(m.architecture)}`);
        } else checkArchName(p, `${at}.architecture`, m.architecture);
        if (m.subArchitectures !== undefined && m.subArchitectures !== null) {
          checkStringArray(p, `${at}.subArchitectures`, m.subArchitectures, (s, sat) =>
            checkArchName(p, sat, s),
          );
        }
      });
    }
  }
  if (spec.flags !== undefined && spec.flags !== null) {
    checkStringArray(p, `${base}.flags`, spec.flags, (s, at) => {
      if (!(s in PROFILE_FLAGS)) {
        p.add(at, `unknown flag ${json(s)} (known: ${Object.keys(PROFILE_FLAGS).join(", ")})`);
      }
    });
  }
  for (const key of ["listenerPath", "listenerMetadata"]) {
    if (spec[key] !== undefined && typeof spec[key] !== "string") {
      p.add(`${base}.${key}`, `must be a string, got ${json(spec[key])}`);
    }
  }
  let notifies = false;
  if (spec.syscalls !== undefined && spec.syscalls !== null) {
    if (!Array.isArray(spec.syscalls)) {
      p.add(`${base}.syscalls`, `must be an array, got ${json(spec.syscalls)}`);
    } else {
      spec.syscalls.forEach((s, i) => {
        checkSyscall(p, `${base}.syscalls[${i}]`, s);
        if (isObject(s) && s.action === "SCMP_ACT_NOTIFY") notifies = true;
      });
    }
  }
  if (notifies && (typeof spec.listenerPath !== "string" || spec.listenerPath === "")) {
    p.add(`${base}.listenerPath`, "is required when a rule uses SCMP_ACT_NOTIFY");
  }
  if (
    Array.isArray(spec.flags) &&
    spec.flags.includes("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") &&
    !notifies
  ) {
    p.add(
      `${base}.flags`,
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY (the kernel refuses it without a listener)",
    );
  }
  return p.list;
}
