/**
 * hood's default seccomp profile: an allow-list with EPERM for everything else, equivalent in
 * intent to Docker's default (and written in the same format, so it is also a Docker profile
 * file). Capabilities widen it the way Docker does: with CAP_SYS_ADMIN, mount, unshare, setns
 * and unrestricted clone are allowed; without it, clone may not create namespaces and clone3
 * gets ENOSYS so that libc falls back to clone.
 */
import { release } from "node:os";
import { findArch, nativeArch } from "./arches.ts";
import defaultProfileJson from "./default-profile.json" with { type: "json" };
import { resolveDockerProfile } from "./docker.ts";
import type { DockerProfile, SeccompSpec } from "./profile.ts";

/** A fresh copy of the default profile, in Docker's format. */
export function defaultProfile(): DockerProfile {
  return structuredClone(defaultProfileJson) as DockerProfile;
}

export interface SpecialiseOptions {
  /** The container's capabilities (Docker uses the bounding set). */
  capabilities: readonly string[];
  /** The host ABI; defaults to this machine's. */
  arch?: string;
  /** The kernel release; defaults to this machine's. */
  kernel?: string;
}

/** The OCI `linux.seccomp` the default profile means for a container with these capabilities. */
export function defaultSeccomp(opts: SpecialiseOptions): SeccompSpec {
  const arch = opts.arch ? findArch(opts.arch) : nativeArch();
  if (!arch) throw new Error(`hood has no seccomp syscall table for ${opts.arch}`);
  return resolveDockerProfile(defaultProfile(), {
    arch,
    capabilities: opts.capabilities,
    kernel: opts.kernel ?? release(),
  });
}
