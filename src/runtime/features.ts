/** The runtime-spec features document: what this hood, on this kernel, really supports. */
import { release } from "node:os";
import { decodeCaps, fullMask, lastCap } from "../linux/capabilities.ts";
import { hostHierarchies } from "../linux/cgroups.ts";
import type { Features } from "../oci/runtime-spec.ts";
import { OCI_VERSION_MAX, OCI_VERSION_MIN } from "../oci/version.ts";
import { knownMountOptionWords } from "../setup/mount-options.ts";

/** mount_setattr(2), and with it MOUNT_ATTR_IDMAP and the recursive words, came in 5.12. */
function kernelAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = release()
    .split(".")
    .map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

export function features(): Features {
  const hierarchies = hostHierarchies();
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION_MAX,
    hooks: [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ],
    mountOptions: knownMountOptionWords(),
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      capabilities: decodeCaps(fullMask(lastCap())).map((n) => n.toUpperCase()),
      cgroup: {
        v1: hierarchies.some((h) => h.fstype === "cgroup"),
        v2: hierarchies.some((h) => h.fstype === "cgroup2"),
        systemd: false,
        systemdUser: false,
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      mountExtensions: { idmap: { enabled: kernelAtLeast(5, 12) } },
    },
    annotations: { "io.github.hood.version": "0.1.0" },
  };
}
