/**
 * The container process: rlimits, user and groups, capabilities, no_new_privs, seccomp, the
 * working directory, and the executable's candidate paths.
 */
import { posix } from "node:path";
import { toUint64 } from "../oci/numbers.ts";
import type { Process } from "../oci/runtime-spec.ts";
import { type Step, step } from "./program.ts";

export const PR = {
  SET_PDEATHSIG: 1,
  SET_KEEPCAPS: 8,
  CAPBSET_DROP: 24,
  SET_SECUREBITS: 28,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export function rlimitNumber(type: string): number | undefined {
  return RLIMITS[type];
}

export function rlimitSteps(process: Process): Step[] {
  return (process.rlimits ?? []).map((r) => {
    const resource = RLIMITS[r.type];
    if (resource === undefined) throw new RangeError(`unknown rlimit ${r.type}`);
    return step(
      "setrlimit",
      { resource, soft: toUint64(r.soft), hard: toUint64(r.hard) },
      `set ${r.type} to ${r.soft}/${r.hard}`,
    );
  });
}

/** runc's PATH when the container's environment has none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Where the executor should look for args[0], in order: the name itself when it holds a slash
 * (relative to the working directory), else each directory of the container's PATH.
 */
export function execCandidates(args: readonly string[], env: readonly string[]): string[] {
  const name = args[0] ?? "";
  if (name.includes("/")) return [name];
  const pathEntry = [...env].reverse().find((e) => e.startsWith("PATH="));
  const path = pathEntry !== undefined ? pathEntry.slice(5) : DEFAULT_PATH;
  return path.split(":").map((dir) => posix.join(dir === "" ? "." : dir, name));
}

/** The capability sets the executor applies, already resolved to numbers. */
export interface CapabilityPlan {
  boundingDrop: readonly number[];
  ambient: readonly number[];
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/**
 * User switch and capabilities, in the order that keeps the caps across setresuid:
 * drop the bounding set while CAP_SETPCAP is still held, keep caps over the uid change,
 * capset the three sets, then raise ambient (which needs permitted and inheritable).
 */
export function identitySteps(process: Process, caps: CapabilityPlan | null): Step[] {
  const steps: Step[] = [];
  const user = process.user ?? { uid: 0, gid: 0 };
  if (caps) {
    for (const cap of caps.boundingDrop) {
      steps.push(
        step(
          "prctl",
          { option: PR.CAPBSET_DROP, arg2: cap, arg3: 0, arg4: 0, arg5: 0 },
          `drop capability ${cap} from the bounding set`,
        ),
      );
    }
    steps.push(
      step(
        "prctl",
        { option: PR.SET_KEEPCAPS, arg2: 1, arg3: 0, arg4: 0, arg5: 0 },
        "keep capabilities across the uid change",
      ),
    );
  }
  // hood maps user namespaces as root, so setgroups(2) stays allowed inside them; a rootless
  // runtime would have to write "deny" to /proc/PID/setgroups and leave this step out.
  steps.push(
    step("setgroups", { gids: user.additionalGids ?? [] }, "set the supplementary groups"),
  );
  steps.push(step("setresgid", { gid: user.gid }, `set gid ${user.gid}`));
  steps.push(step("setresuid", { uid: user.uid }, `set uid ${user.uid}`));
  if (caps) {
    steps.push(
      step(
        "prctl",
        { option: PR.SET_KEEPCAPS, arg2: 0, arg3: 0, arg4: 0, arg5: 0 },
        "stop keeping capabilities",
      ),
    );
    steps.push(
      step(
        "capset",
        { effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable },
        "set the capabilities",
      ),
    );
    steps.push(
      step(
        "prctl",
        { option: PR.CAP_AMBIENT, arg2: PR.CAP_AMBIENT_CLEAR_ALL, arg3: 0, arg4: 0, arg5: 0 },
        "clear the ambient capabilities",
      ),
    );
    for (const cap of caps.ambient) {
      steps.push(
        step(
          "prctl",
          { option: PR.CAP_AMBIENT, arg2: PR.CAP_AMBIENT_RAISE, arg3: cap, arg4: 0, arg5: 0 },
          `raise ambient capability ${cap}`,
        ),
      );
    }
  }
  return steps;
}

export function umaskValue(process: Process): number {
  return process.user?.umask ?? 0o022;
}
