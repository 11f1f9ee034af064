/** CompileOptions for unit tests of the setup compiler: runc's default spec, edited. */
import { defaultSpec } from "../../src/oci/defaults.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";
import type { CompileOptions } from "../../src/setup/compile.ts";

export function compileOptions(
  edit?: (s: Spec) => void,
  extra: Partial<CompileOptions> = {},
): CompileOptions {
  const spec = defaultSpec({ args: ["sh"] });
  edit?.(spec);
  return {
    spec,
    bundle: "/b",
    rootfs: "/b/rootfs",
    joinFds: {},
    execFifoFd: 10,
    consoleSocketFd: null,
    preserveFds: 0,
    noPivot: false,
    hooks: false,
    capabilities: null,
    seccomp: null,
    cgroups: [{ fstype: "cgroup2", subdir: "", data: "" }],
    cgroupJoins: [],
    ...extra,
  };
}
