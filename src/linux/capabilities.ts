/**
 * Linux capabilities: the name table, masks, /proc/PID/status, and the plan that turns an OCI
 * `process.capabilities` object into the exact kernel calls runc makes.
 *
 * Masks are bigints: capability numbers go past 31, and JS bit operators are 32-bit.
 * Names come in two spellings: the OCI one (`CAP_CHOWN`, used in config.json) and capsh's
 * (`cap_chown`, used for display, as `capsh --decode` prints them).
 */
import { readFileSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";

/** Capability numbers are indexes into this table (include/uapi/linux/capability.h). */
export const CAP_NAMES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** The highest capability number hood has a name for (CAP_CHECKPOINT_RESTORE). */
export const LAST_NAMED_CAP = CAP_NAMES.length - 1;

/** The kernel's capability masks are 64 bits wide (capset v3: two u32 words per set). */
export const MASK_BITS = 64;

const numberByName = new Map(CAP_NAMES.map((name, value) => [name, value]));

export const CAP_LAST_CAP_PATH = "/proc/sys/kernel/cap_last_cap";

/**
 * The highest capability number the running kernel knows.
 * `read` is injectable so that tests can pretend to be an older or newer kernel.
 *
 * @example lastCap() // 40 on Linux 5.9 and later
 */
export function lastCap(
  read: () => string = () => readFileSync(CAP_LAST_CAP_PATH, "utf8"),
): number {
  let text: string;
  try {
    text = read();
  } catch (e) {
    throw syscallError(`read the last capability number from ${CAP_LAST_CAP_PATH}`, e);
  }
  const trimmed = text.trim();
  const n = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || n >= MASK_BITS) {
    throw new HoodError(
      `read the last capability number from ${CAP_LAST_CAP_PATH}: not a number below ${MASK_BITS}: ${JSON.stringify(text)}`,
      "BAD_PROC_FILE",
    );
  }
  return n;
}

/** Every capability 0..last as a mask: what "all capabilities" means on that kernel. */
export function fullMask(last: number): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}

/** capsh's spelling: `cap_chown`, or the decimal number for a capability without a name. */
export function displayName(cap: number): string {
  const name = CAP_NAMES[cap];
  return name === undefined ? String(cap) : name.toLowerCase();
}

/** The OCI spelling (`CAP_CHOWN`), or undefined for a number hood has no name for. */
export function ociName(cap: number): string | undefined {
  return CAP_NAMES[cap];
}

export type ParsedCapName =
  /** A name in hood's table; `name` is the OCI spelling. */
  | { kind: "known"; name: string; value: number }
  /** Well formed, but not a name hood knows (a capability newer than hood, or a typo). */
  | { kind: "unknown"; name: string }
  | { kind: "malformed"; text: string; reason: string };

const STRICT_NAME = /^CAP_[A-Z0-9_]+$/;
const LOOSE_NAME = /^cap_[a-z0-9_]+$/i;

/**
 * Parses one capability name. `strict` (for config.json) accepts only the OCI spelling
 * `CAP_CHOWN`; otherwise (for the command line) any case is accepted: `cap_chown`, `CAP_CHOWN`.
 *
 * @example parseCapName("cap_kill") // { kind: "known", name: "CAP_KILL", value: 5 }
 */
export function parseCapName(text: string, opts: { strict?: boolean } = {}): ParsedCapName {
  const ok = opts.strict ? STRICT_NAME.test(text) : LOOSE_NAME.test(text);
  if (!ok) {
    const reason = opts.strict
      ? "a capability name is CAP_ followed by upper-case letters, digits and underscores, like CAP_CHOWN"
      : "a capability name is cap_ (or CAP_) followed by letters, digits and underscores, like cap_chown";
    return { kind: "malformed", text, reason };
  }
  const name = text.toUpperCase();
  const value = numberByName.get(name);
  return value === undefined ? { kind: "unknown", name } : { kind: "known", name, value };
}

/**
 * The mask of a list of capabilities, each a name in either spelling or a number (0..63), so
 * that whatever `decodeCaps` prints encodes back to the same mask.
 *
 * @example encodeCaps(["cap_chown", "CAP_KILL"]) // 0x21n
 */
export function encodeCaps(names: Iterable<string | number>): bigint {
  let mask = 0n;
  for (const item of names) {
    mask |= 1n << BigInt(capNumber(item));
  }
  return mask;
}

function capNumber(item: string | number): number {
  if (typeof item === "number" || /^\d+$/.test(item)) {
    const n = Number(item);
    if (!Number.isInteger(n) || n < 0 || n >= MASK_BITS) {
      throw new HoodError(
        `encode capability ${item}: numbers go from 0 to ${MASK_BITS - 1}`,
        "INVALID_CAPABILITY",
      );
    }
    return n;
  }
  const parsed = parseCapName(item);
  if (parsed.kind === "known") return parsed.value;
  if (parsed.kind === "unknown") {
    throw new HoodError(
      `encode capability ${JSON.stringify(item)}: unknown capability name`,
      "INVALID_CAPABILITY",
    );
  }
  throw new HoodError(
    `encode capability ${JSON.stringify(item)}: ${parsed.reason}`,
    "INVALID_CAPABILITY",
  );
}

/** The capability numbers in a mask, lowest first. */
export function capNumbers(mask: bigint): number[] {
  checkMask(mask);
  const out: number[] = [];
  for (let bit = 0; mask >> BigInt(bit) !== 0n; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(bit);
  }
  return out;
}

/**
 * The names in a mask in capsh's order and spelling: lowest bit first, `cap_chown`, and the
 * decimal number for a bit without a name (`capsh --decode=0x20000000000` prints `41`).
 *
 * @example decodeCaps(0x21n) // ["cap_chown", "cap_kill"]
 */
export function decodeCaps(mask: bigint): string[] {
  return capNumbers(mask).map(displayName);
}

function checkMask(mask: bigint): void {
  if (mask < 0n || mask >> BigInt(MASK_BITS) !== 0n) {
    throw new HoodError(
      `capability mask ${mask}: not a ${MASK_BITS}-bit unsigned value`,
      "INVALID_CAPABILITY",
    );
  }
}

/** `0x000001ffffffffff`, the way capsh prints a mask (16 hex digits). */
export function formatMask(mask: bigint): string {
  checkMask(mask);
  return `0x${mask.toString(16).padStart(16, "0")}`;
}

/**
 * Parses a mask written in hex, with or without `0x` (`/proc` prints `000001ffffffffff`).
 * Stricter than capsh, which reads garbage as 0: a typo here must not look like "no capabilities".
 */
export function parseMask(text: string): bigint {
  const m = /^(?:0x)?([0-9a-f]{1,16})$/i.exec(text.trim());
  if (!m) {
    throw new HoodError(
      `parse capability mask ${JSON.stringify(text)}: expected up to 16 hex digits, like 0x00000000a80425fb`,
      "INVALID_CAPABILITY",
    );
  }
  return BigInt(`0x${m[1]}`);
}

/** The bits of the `securebits` flags (include/uapi/linux/securebits.h). */
export const SECUREBITS: readonly string[] = [
  "noroot",
  "noroot_locked",
  "no_setuid_fixup",
  "no_setuid_fixup_locked",
  "keep_caps",
  "keep_caps_locked",
  "no_cap_ambient_raise",
  "no_cap_ambient_raise_locked",
  "exec_restrict_file",
  "exec_restrict_file_locked",
  "exec_deny_interactive",
  "exec_deny_interactive_locked",
];

export function decodeSecurebits(bits: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bits >>> bit !== 0 && bit < 32; bit++) {
    if ((bits >>> bit) & 1) out.push(SECUREBITS[bit] ?? String(bit));
  }
  return out;
}

/** The five capability sets of a process, as masks. */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  bounding: bigint;
  ambient: bigint;
}

export type SeccompMode = "disabled" | "strict" | "filter";

/** What /proc/PID/status says about a process's privileges. */
export interface ProcStatusCaps extends CapSets {
  /** The `Name:` line (the command, at most 15 bytes), or null when absent. */
  name: string | null;
  /** real, effective, saved, filesystem uid; null when the line is absent. */
  uids: [number, number, number, number] | null;
  noNewPrivs: boolean;
  /** null when the kernel was built without seccomp (no `Seccomp:` line). */
  seccomp: SeccompMode | null;
  /** Number of attached seccomp filters; null before Linux 5.9 (no `Seccomp_filters:` line). */
  seccompFilters: number | null;
}

const SECCOMP_MODES: readonly SeccompMode[] = ["disabled", "strict", "filter"];

/** Parses the text of /proc/PID/status. `source` names the file in error messages. */
export function parseProcStatus(text: string, source = "/proc/PID/status"): ProcStatusCaps {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const bad = (what: string) => new HoodError(`parse ${source}: ${what}`, "BAD_PROC_FILE");
  const mask = (key: string): bigint => {
    const v = fields.get(key);
    if (v === undefined) throw bad(`no ${key} line`);
    if (!/^[0-9a-f]{1,16}$/i.test(v)) throw bad(`${key} is not a hex mask: ${JSON.stringify(v)}`);
    return BigInt(`0x${v}`);
  };
  const int = (key: string): number | null => {
    const v = fields.get(key);
    if (v === undefined) return null;
    if (!/^\d+$/.test(v)) throw bad(`${key} is not a number: ${JSON.stringify(v)}`);
    return Number(v);
  };

  let uids: ProcStatusCaps["uids"] = null;
  const uidLine = fields.get("Uid");
  if (uidLine !== undefined) {
    const parts = uidLine.split(/\s+/).map(Number);
    if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n))) {
      throw bad(`Uid is not four numbers: ${JSON.stringify(uidLine)}`);
    }
    uids = parts as [number, number, number, number];
  }
  const seccompNumber = int("Seccomp");
  let seccomp: SeccompMode | null = null;
  if (seccompNumber !== null) {
    seccomp = SECCOMP_MODES[seccompNumber] ?? null;
    if (seccomp === null) throw bad(`unknown Seccomp mode ${seccompNumber}`);
  }
  return {
    name: fields.get("Name") ?? null,
    uids,
    effective: mask("CapEff"),
    permitted: mask("CapPrm"),
    inheritable: mask("CapInh"),
    bounding: mask("CapBnd"),
    ambient: mask("CapAmb"),
    noNewPrivs: int("NoNewPrivs") === 1,
    seccomp,
    seccompFilters: int("Seccomp_filters"),
  };
}

export interface ProcessCaps extends ProcStatusCaps {
  pid: number;
  /** PR_GET_SECUREBITS, or null when it cannot be read (see `securebitsNote`). */
  securebits: number | null;
  /** Why `securebits` is null; absent when it was read. */
  securebitsNote?: string;
}

export interface ReadProcessCapsOptions {
  /** Where procfs is mounted; tests point this at a directory of fake status files. */
  proc?: string;
  /**
   * Reads the caller's own securebits with prctl(PR_GET_SECUREBITS). The kernel offers no way
   * to read another process's securebits (no /proc field, no prctl on a pid), so this is only
   * used when `pid` is the caller's own pid.
   */
  selfSecurebits?: () => number;
}

/**
 * The capability state of a process, read from /proc/PID/status. Securebits are only known for
 * the calling process itself, and only when `opts.selfSecurebits` is given: for any other
 * process they are reported as null with the reason in `securebitsNote`.
 */
export function readProcessCaps(pid: number, opts: ReadProcessCapsOptions = {}): ProcessCaps {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new HoodError(`read capabilities of pid ${pid}: not a process id`, "EINVAL");
  }
  const path = `${opts.proc ?? "/proc"}/${pid}/status`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new HoodError(`read capabilities of pid ${pid}: no such process`, "ESRCH", {
        cause: e,
      });
    }
    throw syscallError(`read capabilities of pid ${pid} from ${path}`, e);
  }
  const status = parseProcStatus(text, path);
  if (pid === process.pid && opts.selfSecurebits) {
    return { pid, ...status, securebits: opts.selfSecurebits() };
  }
  return {
    pid,
    ...status,
    securebits: null,
    securebitsNote:
      "the kernel shows securebits only to the process itself (prctl PR_GET_SECUREBITS); /proc has no field for them",
  };
}

/** The `process.capabilities` object of an OCI config.json. */
export interface CapabilitySpec {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface CapabilityPlanOptions {
  /** The running kernel's last capability (`lastCap()`). */
  lastCap: number;
  /**
   * True when the process will run with a non-zero uid: the executor is uid 0 in its user
   * namespace, and the kernel clears the permitted and effective sets when all of a process's
   * uids leave 0, unless keep-caps is set.
   */
  changesUid: boolean;
  /**
   * The bounding and permitted sets of the process that applies the plan (the executor),
   * when it may hold fewer than every capability: a runtime in a restricted environment
   * cannot grant what it does not hold. Omitted: it holds every capability up to lastCap.
   * In a new user namespace the executor's permitted set is full but its bounding set is
   * still its parent's.
   */
  holder?: { bounding: bigint; permitted: bigint };
}

export interface CapabilityProblem {
  /** JSON path in config.json, like `process.capabilities.effective[2]`. */
  path: string;
  message: string;
}

export interface CapabilityPlan {
  /** Names skipped because the running kernel cannot map them, and ambient caps not raised. */
  warnings: string[];
  /** Errors: the container must not be created when this is not empty. */
  problems: CapabilityProblem[];
  /** PR_CAPBSET_DROP each of these, lowest first: every cap up to lastCap not in bounding. */
  boundingDrop: number[];
  /** The bounding set the process ends up with. */
  bounding: bigint;
  /** PR_CAP_AMBIENT_RAISE each of these, in spec order: only caps permitted and inheritable. */
  ambient: number[];
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  /** Whether to hold PR_SET_KEEPCAPS across setresuid. */
  keepCaps: boolean;
}

const SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"] as const;
type SetName = (typeof SETS)[number];

/**
 * Decides what the runtime does to apply `process.capabilities`, exactly as runc does
 * (libcontainer/capabilities, init_linux.go finalizeNamespace), but pure: no syscalls.
 *
 * Call it only when config.json has a `process.capabilities` object: when it is absent, runc
 * leaves the capabilities as they are, and so must hood. Inside the object a missing set is an
 * empty set (a missing `bounding` drops the whole bounding set).
 *
 * Names:
 * - a malformed name (not `CAP_[A-Z0-9_]+`; `cap_chown` too) is a problem. runc would warn
 *   and skip it, but a misspelled name silently loses a capability;
 * - a well-formed name the running kernel cannot map (unknown to hood, or above
 *   `cap_last_cap`) is skipped with a warning that names it, as runtime-spec 1.3 says:
 *   "Any value which cannot be mapped to a relevant kernel interface, or cannot be granted
 *   otherwise MUST be logged as a warning by the runtime."
 * - a name the runtime cannot grant because it does not hold it (`opts.holder`) is skipped
 *   with a warning too: the spec says runtimes "SHOULD NOT fail if the container configuration
 *   requests capabilities that cannot be granted". runc fails at capset instead.
 *
 * Sets the kernel would refuse are problems here, found before anything is created, where
 * runc fails with `unable to apply caps: ... operation not permitted` at capset: an effective
 * cap that is not permitted, and an inheritable cap outside the bounding set (capset allows a
 * new inheritable cap only if it is in the bounding set or already inheritable; hood does not
 * let the answer depend on the host's inheritable set). An ambient cap that is not both
 * permitted and inheritable is left out with a warning, where runc warns
 * `can't raise ambient capability CAP_X: operation not permitted` and goes on.
 *
 * The runtime applies the plan in runc's order, as setup-program steps, after mounts and
 * pivot-root and before no-new-privs and (with noNewPrivileges) seccomp:
 *
 * 1. `prctl(PR_CAPBSET_DROP, cap)` for each cap in `boundingDrop` (needs CAP_SETPCAP, which
 *    the executor has as uid 0 in its namespace; do it before the uid change drops it);
 * 2. if `keepCaps`: `prctl(PR_SET_KEEPCAPS, 1)`, so that setresuid away from uid 0 keeps the
 *    permitted set (runc sets it unconditionally; it only matters when the uid changes);
 * 3. `setgroups`, `setresgid`, `setresuid` (the user steps);
 * 4. if `keepCaps`: `prctl(PR_SET_KEEPCAPS, 0)` (execve would clear it too; runc clears it);
 * 5. `capset(effective, permitted, inheritable)`: after the uid change the effective set is
 *    empty, but capset may still set any subset of the kept permitted set;
 * 6. `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`, then
 *    `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)` for each cap in `ambient`: raising needs
 *    the cap in both the permitted and the inheritable set, so it must follow capset. Since the
 *    plan leaves out the caps the kernel would refuse, a failing raise is a real error.
 *
 * What the process holds after execve follows from the kernel's rules: `capsAfterExec`.
 */
export function planCapabilities(
  spec: CapabilitySpec,
  opts: CapabilityPlanOptions,
): CapabilityPlan {
  const problems: CapabilityProblem[] = [];
  const skipped = new Map<string, { sets: SetName[]; why: string }>();
  const masks: Record<SetName, bigint> = {
    bounding: 0n,
    effective: 0n,
    inheritable: 0n,
    permitted: 0n,
    ambient: 0n,
  };
  // Each set's names that survive, with their index, to point problems at the right entry.
  const entries: Record<SetName, { index: number; name: string; value: number }[]> = {
    bounding: [],
    effective: [],
    inheritable: [],
    permitted: [],
    ambient: [],
  };

  // What the holder can give: a bounding cap it still has; a permitted or effective cap it
  // holds (capset never adds to the permitted set); an inheritable cap in both its bounding
  // and permitted sets (capset's rule once the uid change has emptied the effective set, so
  // CAP_SETPCAP no longer counts, taking the holder's own inheritable set as empty).
  const all = fullMask(opts.lastCap);
  const holderBounding = opts.holder ? opts.holder.bounding & all : all;
  const holderPermitted = opts.holder ? opts.holder.permitted & all : all;
  const grantable: Record<SetName, bigint> = {
    bounding: holderBounding,
    effective: holderPermitted,
    permitted: holderPermitted,
    inheritable: holderBounding & holderPermitted,
    ambient: holderBounding & holderPermitted,
  };

  for (const set of SETS) {
    const list: unknown = spec[set];
    const base = `process.capabilities.${set}`;
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      problems.push({ path: base, message: "must be an array of capability names" });
      continue;
    }
    list.forEach((item: unknown, index) => {
      const path = `${base}[${index}]`;
      if (typeof item !== "string") {
        problems.push({ path, message: "must be a string, a capability name like CAP_CHOWN" });
        return;
      }
      const parsed = parseCapName(item, { strict: true });
      if (parsed.kind === "malformed") {
        problems.push({
          path,
          message: `malformed capability name ${JSON.stringify(item)}: ${parsed.reason}`,
        });
        return;
      }
      const why =
        parsed.kind === "unknown"
          ? "not a capability hood knows"
          : parsed.value > opts.lastCap
            ? `the running kernel does not support it (cap_last_cap is ${opts.lastCap})`
            : ((grantable[set] >> BigInt(parsed.value)) & 1n) === 0n
              ? "it cannot be granted: the runtime does not hold it"
              : "";
      if (parsed.kind === "unknown" || why !== "") {
        const seen = skipped.get(parsed.name);
        if (seen) {
          if (!seen.sets.includes(set)) seen.sets.push(set);
        } else {
          skipped.set(parsed.name, { sets: [set], why });
        }
        return;
      }
      masks[set] |= 1n << BigInt(parsed.value);
      entries[set].push({ index, name: parsed.name, value: parsed.value });
    });
  }

  const warnings: string[] = [];
  for (const [name, { sets, why }] of skipped) {
    warnings.push(`ignoring capability ${name} (in ${sets.join(", ")}): ${why}`);
  }

  const has = (mask: bigint, value: number) => ((mask >> BigInt(value)) & 1n) === 1n;
  for (const e of entries.effective) {
    if (!has(masks.permitted, e.value)) {
      problems.push({
        path: `process.capabilities.effective[${e.index}]`,
        message: `${e.name} is effective but not permitted: the kernel refuses an effective capability that is not permitted (capset: EPERM)`,
      });
    }
  }
  for (const e of entries.inheritable) {
    if (!has(masks.bounding, e.value)) {
      problems.push({
        path: `process.capabilities.inheritable[${e.index}]`,
        message: `${e.name} is inheritable but not in the bounding set: the kernel refuses it (capset: EPERM)`,
      });
    }
  }

  const ambient: number[] = [];
  for (const e of entries.ambient) {
    if (ambient.includes(e.value)) continue;
    if (has(masks.permitted, e.value) && has(masks.inheritable, e.value)) {
      ambient.push(e.value);
      continue;
    }
    const missing = [
      has(masks.permitted, e.value) ? "" : "permitted",
      has(masks.inheritable, e.value) ? "" : "inheritable",
    ]
      .filter(Boolean)
      .join(" and ");
    warnings.push(
      `not raising ambient capability ${e.name}: it is not ${missing} (an ambient capability must be both permitted and inheritable)`,
    );
  }

  const boundingDrop: number[] = [];
  for (let cap = 0; cap <= opts.lastCap; cap++) {
    if (!has(masks.bounding, cap)) boundingDrop.push(cap);
  }

  return {
    warnings,
    problems,
    boundingDrop,
    bounding: masks.bounding,
    ambient,
    effective: masks.effective,
    permitted: masks.permitted,
    inheritable: masks.inheritable,
    keepCaps: opts.changesUid,
  };
}

export interface ExecIdentity {
  /** Real uid of the process at execve. */
  uid: number;
  /** Effective uid at execve; the real uid when omitted. */
  euid?: number;
  /** SECBIT_NOROOT: uid 0 gets no capabilities from execve. */
  noRoot?: boolean;
}

/**
 * The capability sets a process holds after execve of a file that has no file capabilities
 * and no set-user-ID or set-group-ID bit (capabilities(7), security/commoncap.c):
 *
 * - ambient' = ambient, inheritable' = inheritable, bounding' = bounding;
 * - permitted' = (bounding | inheritable) | ambient for uid 0 (real or effective, unless
 *   SECBIT_NOROOT), else ambient: a root process gets its whole bounding set back, whatever
 *   its permitted set was before;
 * - effective' = permitted' when the effective uid is 0, else ambient'.
 *
 * This is what `/proc/1/status` of a container shows after the runtime applied a plan.
 */
export function capsAfterExec(before: CapSets, who: ExecIdentity): CapSets {
  const euid = who.euid ?? who.uid;
  const rootRules = !who.noRoot && (who.uid === 0 || euid === 0);
  const ambient = before.ambient;
  const permitted = rootRules ? before.bounding | before.inheritable | ambient : ambient;
  const effective = rootRules && euid === 0 ? permitted : ambient;
  return {
    effective,
    permitted,
    inheritable: before.inheritable,
    bounding: before.bounding,
    ambient,
  };
}

/** The sets a plan leaves in place just before execve. */
export function planSets(plan: CapabilityPlan): CapSets {
  return {
    effective: plan.effective,
    permitted: plan.permitted,
    inheritable: plan.inheritable,
    bounding: plan.bounding,
    ambient: encodeCaps(plan.ambient),
  };
}

/** prctl(2) options and arguments the capability steps use (include/uapi/linux/prctl.h). */
export const PRCTL = {
  PR_GET_KEEPCAPS: 7,
  PR_SET_KEEPCAPS: 8,
  PR_CAPBSET_READ: 23,
  PR_CAPBSET_DROP: 24,
  PR_GET_SECUREBITS: 27,
  PR_SET_SECUREBITS: 28,
  PR_SET_NO_NEW_PRIVS: 38,
  PR_GET_NO_NEW_PRIVS: 39,
  PR_CAP_AMBIENT: 47,
  PR_CAP_AMBIENT_IS_SET: 1,
  PR_CAP_AMBIENT_RAISE: 2,
  PR_CAP_AMBIENT_LOWER: 3,
  PR_CAP_AMBIENT_CLEAR_ALL: 4,
} as const;
