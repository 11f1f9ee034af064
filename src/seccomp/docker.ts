/**
 * Resolves a Docker/Moby profile for one host the way Moby's `setupSeccomp` does: archMap
 * picks the native ABI and its sub-ABIs, and each rule's includes/excludes are decided by
 * the host's GOARCH, the container's capabilities and the kernel version.
 */
import type { Arch } from "./arches.ts";
import type { DockerFilter, DockerProfile, SeccompSpec, SeccompSyscall } from "./profile.ts";

export interface DockerHost {
  /** The native ABI. */
  arch: Arch;
  /** The container's capabilities ("CAP_SYS_ADMIN"); Docker uses the bounding set. */
  capabilities: readonly string[];
  /** The kernel release, as uname -r gives it. */
  kernel: string;
}

/** [major, minor, patch] of "6.18.44-fc-v857"; missing parts are 0. */
export function parseKernelVersion(release: string): [number, number, number] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(release);
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function kernelAtLeast(release: string, min: string): boolean {
  const have = parseKernelVersion(release);
  const want = parseKernelVersion(min);
  for (let i = 0; i < 3; i++) {
    if (have[i]! !== want[i]!) return have[i]! > want[i]!;
  }
  return true;
}

function excluded(f: DockerFilter | undefined, host: DockerHost): boolean {
  if (!f) return false;
  if (f.arches?.includes(host.arch.goarch)) return true;
  if (f.caps?.some((c) => host.capabilities.includes(c))) return true;
  if (f.minKernel !== undefined && kernelAtLeast(host.kernel, f.minKernel)) return true;
  return false;
}

function included(f: DockerFilter | undefined, host: DockerHost): boolean {
  if (!f) return true;
  if (f.arches && f.arches.length > 0 && !f.arches.includes(host.arch.goarch)) return false;
  if (f.caps && !f.caps.every((c) => host.capabilities.includes(c))) return false;
  if (f.minKernel !== undefined && !kernelAtLeast(host.kernel, f.minKernel)) return false;
  return true;
}

/** The OCI `linux.seccomp` a validated Docker profile means on this host. */
export function resolveDockerProfile(profile: DockerProfile, host: DockerHost): SeccompSpec {
  const out: SeccompSpec = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags) out.flags = [...profile.flags];
  if (profile.listenerPath !== undefined) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata !== undefined) out.listenerMetadata = profile.listenerMetadata;
  const arches = [...(profile.architectures ?? [])];
  for (const m of profile.archMap ?? []) {
    if (m.architecture === host.arch.oci)
      arches.push(m.architecture, ...(m.subArchitectures ?? []));
  }
  if (arches.length > 0) out.architectures = arches;
  const syscalls: SeccompSyscall[] = [];
  for (const s of profile.syscalls ?? []) {
    if (excluded(s.excludes, host) || !included(s.includes, host)) continue;
    const rule: SeccompSyscall = {
      names: s.name !== undefined ? [s.name] : [...(s.names ?? [])],
      action: s.action!,
    };
    if (s.errnoRet !== undefined) rule.errnoRet = s.errnoRet;
    if (s.args && s.args.length > 0) rule.args = s.args.map((a) => ({ ...a }));
    syscalls.push(rule);
  }
  out.syscalls = syscalls;
  return out;
}
