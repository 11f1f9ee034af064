/**
 * The shapes hood reads: OCI `linux.seccomp` (runtime-spec 1.3) and the superset Docker and
 * Moby use for profile files (archMap, per-rule includes/excludes, comments, `name`).
 */
import type { ActionName } from "./actions.ts";

export type Uint64 = number | bigint;

export type OperatorName =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

export const OPERATOR_NAMES: readonly OperatorName[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

export interface SeccompArg {
  index: number;
  /** For MASKED_EQ, the mask. */
  value: Uint64;
  /** For MASKED_EQ, the value the masked argument must equal. */
  valueTwo?: Uint64;
  op: OperatorName;
}

export interface SeccompSyscall {
  names: string[];
  action: ActionName;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** `linux.seccomp` after validation. */
export interface SeccompSpec {
  defaultAction: ActionName;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompSyscall[];
}

export interface DockerFilter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

export interface DockerSyscall extends Partial<SeccompSyscall> {
  name?: string;
  comment?: string;
  includes?: DockerFilter;
  excludes?: DockerFilter;
}

export interface DockerArchMap {
  architecture: string;
  subArchitectures?: string[];
}

/** A Docker/Moby profile file. */
export interface DockerProfile extends Omit<SeccompSpec, "syscalls"> {
  archMap?: DockerArchMap[];
  syscalls?: DockerSyscall[];
}

/** True when the profile uses any Docker-only field and needs resolving for a host first. */
export function isDockerProfile(p: unknown): boolean {
  if (!p || typeof p !== "object") return false;
  const o = p as Record<string, unknown>;
  if ("archMap" in o) return true;
  if (!Array.isArray(o.syscalls)) return false;
  return o.syscalls.some(
    (s) =>
      s !== null &&
      typeof s === "object" &&
      ("includes" in s || "excludes" in s || "name" in s || "comment" in s),
  );
}
