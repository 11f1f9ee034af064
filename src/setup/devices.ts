/**
 * The container's /dev: runc's default devices plus `linux.devices`, the standard symlinks,
 * and /dev/ptmx pointing into the container's own devpts instance.
 */
import { DEFAULT_DEV_SYMLINKS, DEFAULT_DEVICES } from "../oci/defaults.ts";
import type { LinuxDevice } from "../oci/runtime-spec.ts";
import { MS } from "./mount-options.ts";
import { MOUNT_HOW, type Step, step } from "./program.ts";

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** makedev as glibc encodes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

function typeBits(type: string): number {
  switch (type) {
    case "b":
      return S_IFBLK;
    case "p":
      return S_IFIFO;
    default:
      return S_IFCHR;
  }
}

/** The spec's devices after runc's defaults, a spec entry replacing a default of the same path. */
export function containerDevices(spec: readonly LinuxDevice[] = []): LinuxDevice[] {
  const byPath = new Map<string, LinuxDevice>();
  for (const d of DEFAULT_DEVICES) byPath.set(d.path, d);
  for (const d of spec) byPath.set(d.path, d);
  return [...byPath.values()];
}

/**
 * Steps that create the devices. Inside a user namespace mknod is refused, so each device is
 * a bind mount of the host's node instead (what runc does for rootless containers).
 */
export function deviceSteps(devices: readonly LinuxDevice[], bindFromHost: boolean): Step[] {
  const steps: Step[] = [];
  for (const d of devices) {
    const what = `create device ${JSON.stringify(d.path)}`;
    if (bindFromHost) {
      steps.push(
        step(
          "mount",
          {
            source: d.path,
            target: d.path,
            fstype: "",
            flags: MS.BIND,
            data: "",
            how: MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.CREATE_TARGET,
          },
          what,
        ),
      );
      continue;
    }
    steps.push(
      step(
        "mknod-in-root",
        {
          path: d.path,
          mode: typeBits(d.type) | ((d.fileMode ?? 0o666) & 0o7777),
          dev: d.type === "p" ? 0n : makedev(d.major ?? 0, d.minor ?? 0),
          uid: d.uid ?? 0,
          gid: d.gid ?? 0,
        },
        what,
      ),
    );
  }
  return steps;
}

/** /dev/fd, /dev/std*, /dev/ptmx -> pts/ptmx. */
export function devLinkSteps(): Step[] {
  return DEFAULT_DEV_SYMLINKS.map(({ target, path }) =>
    step("symlink-in-root", { target, path }, `symlink ${path} -> ${target}`),
  );
}
