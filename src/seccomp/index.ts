/**
 * hood's seccomp compiler: profile (OCI `linux.seccomp` or a Docker profile) in, classic BPF
 * out, plus the tools to read filters. No libseccomp at run time; libseccomp is what the tests
 * compare against.
 */
import { release } from "node:os";
import { HoodError } from "../errors.ts";
import { SECCOMP_RET } from "./actions.ts";
import { type Arch, findArch, nativeArch } from "./arches.ts";
import { type Endian, encodeProgram, type Insn } from "./bpf.ts";
import { FilterTooLargeError, generate } from "./codegen.ts";
import { resolveDockerProfile } from "./docker.ts";
import { PROFILE_FLAGS, SECCOMP_FILTER_FLAG } from "./flags.ts";
import { planArches, planFilter } from "./plan.ts";
import { type DockerProfile, isDockerProfile, type SeccompSpec } from "./profile.ts";
import { validateSeccomp } from "./validate.ts";

export { describeAction, SECCOMP_RET } from "./actions.ts";
export { ARCHES, findArch, nativeArch } from "./arches.ts";
export { decodeProgram, encodeProgram, hostEndian, type Insn } from "./bpf.ts";
export { defaultProfile, defaultSeccomp } from "./default-profile.ts";
export { disassemble, formatC } from "./disasm.ts";
export { SECCOMP_FILTER_FLAG } from "./flags.ts";
export { parseProfileJson } from "./json.ts";
export type { DockerProfile, SeccompSpec } from "./profile.ts";
export { type SeccompData, type SimResult, simulate } from "./simulate.ts";
export { validateSeccomp } from "./validate.ts";

export interface CompileOptions {
  /** The host ABI the filter runs on ("x86_64", "amd64", "SCMP_ARCH_AARCH64"); default: this one. */
  arch?: string;
  /** The container's capabilities, for Docker profiles' includes/excludes. */
  capabilities?: string[];
  /** The kernel release for Docker profiles' minKernel; default: this one. */
  kernel?: string;
  /**
   * runc's ENOSYS stub: when the default action denies, syscall numbers above the highest the
   * profile names get ENOSYS instead, so that libc falls back from calls newer than the
   * profile. Default true; the differential tests turn it off to compare with bare libseccomp.
   */
  enosys?: boolean;
  /** What a call from an ABI the filter does not admit gets. Default KILL_PROCESS. */
  badArchAction?: number;
}

export interface CompiledSeccomp {
  /** `struct sock_filter[]`, 8 bytes an instruction, in the target's byte order. */
  filter: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2); NEW_LISTENER when a rule notifies. */
  flags: number;
  listenerPath?: string;
  listenerMetadata?: string;
  warnings: string[];
  /** The same program, decoded. */
  program: Insn[];
  endian: Endian;
  /** The host ABI it was compiled for. */
  arch: Arch;
  /** The OCI profile that was compiled (a Docker profile resolved for the host). */
  resolved: SeccompSpec;
}

function invalid(problems: string[]): HoodError {
  return new HoodError(
    `invalid seccomp profile:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    "INVALID_SPEC",
  );
}

/** The target ABI, or a HoodError naming the unknown one. */
export function targetArch(name?: string): Arch {
  if (name === undefined) return nativeArch();
  const a = findArch(name);
  if (!a)
    throw new HoodError(
      `compile the seccomp profile: unknown architecture ${JSON.stringify(name)}`,
      "INVALID_ARGUMENT",
    );
  return a;
}

/**
 * Compiles `linux.seccomp` (or a Docker profile) to BPF. Throws a HoodError listing every
 * problem with its JSON path; unknown syscall names only warn.
 */
export function compileSeccomp(spec: unknown, opts: CompileOptions = {}): CompiledSeccomp {
  const problems = validateSeccomp(spec);
  if (problems.length > 0) throw invalid(problems);
  const arch = targetArch(opts.arch);
  const resolved = isDockerProfile(spec)
    ? resolveDockerProfile(spec as DockerProfile, {
        arch,
        capabilities: opts.capabilities ?? [],
        kernel: opts.kernel ?? release(),
      })
    : (spec as SeccompSpec);
  const warnings: string[] = [];
  const arches = planArches(resolved, arch, warnings);
  const plan = planFilter(resolved, { arches });
  warnings.push(...plan.warnings);
  let program: Insn[];
  try {
    program = generate(plan, {
      endian: arch.endian,
      badArchAction: opts.badArchAction ?? SECCOMP_RET.KILL_PROCESS,
      enosys: opts.enosys ?? true,
      native: arch,
    });
  } catch (e) {
    if (e instanceof FilterTooLargeError) {
      throw new HoodError(`compile the seccomp profile: ${e.message}`, "SECCOMP_TOO_LARGE");
    }
    throw e;
  }
  let flags = 0;
  for (const f of resolved.flags ?? []) flags |= PROFILE_FLAGS[f] ?? 0;
  const notifies = (resolved.syscalls ?? []).some((s) => s.action === "SCMP_ACT_NOTIFY");
  if (notifies) flags |= SECCOMP_FILTER_FLAG.NEW_LISTENER;
  else flags &= ~SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV;
  if (flags & SECCOMP_FILTER_FLAG.TSYNC && flags & SECCOMP_FILTER_FLAG.NEW_LISTENER) {
    // The kernel refuses TSYNC with a listener unless a TSYNC failure may report ESRCH.
    flags |= SECCOMP_FILTER_FLAG.TSYNC_ESRCH;
  }
  const out: CompiledSeccomp = {
    filter: encodeProgram(program, arch.endian),
    flags,
    warnings,
    program,
    endian: arch.endian,
    arch,
    resolved,
  };
  if (notifies && resolved.listenerPath) out.listenerPath = resolved.listenerPath;
  if (resolved.listenerMetadata !== undefined) out.listenerMetadata = resolved.listenerMetadata;
  return out;
}
