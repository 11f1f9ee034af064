/**
 * Spec mounts -> setup steps. Every target is resolved inside the rootfs by the executor
 * (openat2 RESOLVE_IN_ROOT); nothing here joins a path onto the rootfs.
 */
import { isAbsolute, join } from "node:path";
import type { LinuxIDMapping, Mount } from "../oci/runtime-spec.ts";
import {
  AT_RECURSIVE,
  MS,
  PROPAGATION_MASK,
  parseMountOptions,
  recursiveAttrsOf,
} from "./mount-options.ts";
import { MOUNT_HOW, type Step, step } from "./program.ts";

/** A cgroup hierarchy of the host as a container sees it under /sys/fs/cgroup. */
export interface CgroupHierarchy {
  /** "cgroup2" or "cgroup". */
  fstype: "cgroup" | "cgroup2";
  /** The directory below the cgroup mount ("" for a pure v2 host, "memory", "cpu,cpuacct", "unified"). */
  subdir: string;
  /** Mount data: the v1 controllers ("memory", "cpu,cpuacct", "none,name=systemd"), or "" for v2. */
  data: string;
  /**
   * The container's own cgroup directory in this hierarchy on the host. When set, it is bound
   * in (runc's way for v1, and the only way inside a user namespace) instead of a fresh mount.
   */
  hostDir?: string;
}

function bindSource(source: string, bundle: string): string {
  return isAbsolute(source) ? source : join(bundle, source);
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

const IN_ROOT = MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.SOURCE_NULL;

/** Whether a mount is id-mapped: the `idmap`/`ridmap` words or mappings of its own. */
export function isIdmapped(m: Mount): boolean {
  const opts = m.options ?? [];
  return (
    opts.includes("idmap") ||
    opts.includes("ridmap") ||
    m.uidMappings !== undefined ||
    m.gidMappings !== undefined
  );
}

function mapText(maps: readonly LinuxIDMapping[]): string {
  return maps.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join("");
}

/**
 * The step that makes an id-mapped mount's detached tree (in the host's user namespace, before
 * any namespace is entered). The mapping is the mount's own, else the container's: a file the
 * source owns as uid N shows as the uid that N maps to, so with the container's mapping the
 * container sees the source's ids unchanged.
 */
export function idmapTreeStep(
  m: Mount,
  bundle: string,
  slot: number,
  container: { uid?: LinuxIDMapping[]; gid?: LinuxIDMapping[] },
): Step {
  const uid = m.uidMappings ?? container.uid ?? [];
  const gid = m.gidMappings ?? container.gid ?? [];
  const where = `${JSON.stringify(m.source ?? "")} for ${JSON.stringify(m.destination)}`;
  if (!isBind(m)) throw new RangeError(`id-mapped mount ${where}: only bind mounts can be`);
  if (uid.length === 0 || gid.length === 0) {
    throw new RangeError(
      `id-mapped mount ${where}: needs uidMappings and gidMappings (on the mount or the container's new user namespace)`,
    );
  }
  const opts = parseMountOptions(m.options);
  return step(
    "idmap-tree",
    {
      source: bindSource(m.source ?? "", bundle),
      openFlags: opts.flags & MS.REC ? AT_RECURSIVE : 0,
      attrFlags: opts.idmap === "ridmap" ? AT_RECURSIVE : 0,
      uidMap: mapText(uid),
      gidMap: mapText(gid),
      slot,
    },
    `make the id-mapped mount ${where}`,
  );
}

/**
 * Steps for one spec mount: the mount itself (or the attach of its id-mapped tree from `slot`),
 * a flags remount for binds, and the recursive attributes. Propagation is separate
 * (`propagationSteps`): it is applied after the root's own propagation, so that a mount's own
 * word wins.
 */
export function mountSteps(
  m: Mount,
  bundle: string,
  cgroups: readonly CgroupHierarchy[],
  slot?: number,
): Step[] {
  const opts = parseMountOptions(m.options);
  const what = `mount ${JSON.stringify(m.source ?? m.type ?? "")} on ${JSON.stringify(m.destination)}`;
  const steps: Step[] = [];
  const inRoot = MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.CREATE_TARGET;
  const flags = opts.flags & ~PROPAGATION_MASK;
  let recSet = 0;

  if (isBind(m)) {
    const source = bindSource(m.source ?? "", bundle);
    const bindFlags = MS.BIND | (flags & MS.REC);
    if (slot !== undefined) {
      steps.push(step("move-mount", { slot, target: m.destination, how: inRoot }, what));
    } else {
      steps.push(
        step(
          "mount",
          { source, target: m.destination, fstype: "", flags: bindFlags, data: "", how: inRoot },
          what,
        ),
      );
    }
    // A bind ignores every flag but MS_BIND|MS_REC; the others need a remount of the new mount.
    const rest = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (rest !== 0) {
      steps.push(
        step(
          "mount",
          {
            source: "",
            target: m.destination,
            fstype: "",
            flags: rest | MS.BIND | MS.REMOUNT,
            data: "",
            how: IN_ROOT,
          },
          `remount ${JSON.stringify(m.destination)} with its flags`,
        ),
      );
    }
    // The remount reaches the top mount only: a recursive bind's submounts get the
    // restricting flags through mount_setattr.
    if (flags & MS.REC) recSet = recursiveAttrsOf(rest);
  } else if (m.type === "cgroup") {
    steps.push(...cgroupMountSteps(m, flags, cgroups));
  } else {
    steps.push(
      step(
        "mount",
        {
          source: m.source ?? m.type ?? "none",
          target: m.destination,
          fstype: m.type ?? "",
          flags,
          data: opts.data,
          how: inRoot,
        },
        what,
      ),
    );
  }
  const set = (recSet & ~opts.recAttrClear) | opts.recAttrSet;
  if (set !== 0 || opts.recAttrClear !== 0) {
    steps.push(
      step(
        "mount-setattr",
        {
          path: m.destination,
          flags: AT_RECURSIVE,
          set,
          clear: opts.recAttrClear,
          propagation: 0,
        },
        `set the recursive attributes of ${JSON.stringify(m.destination)}`,
      ),
    );
  }
  return steps;
}

/** The propagation words of one mount, in order, as changes of the mount at its destination. */
export function propagationSteps(m: Mount): Step[] {
  return parseMountOptions(m.options).propagation.map((flags) =>
    step(
      "mount",
      { source: "", target: m.destination, fstype: "", flags, data: "", how: IN_ROOT },
      `set propagation of ${JSON.stringify(m.destination)}`,
    ),
  );
}

/**
 * A `cgroup` mount: cgroup2 itself on a unified host; on a v1 or hybrid host a tmpfs with one
 * mount per hierarchy below it, as runc does. In a new cgroup namespace the fresh mounts show
 * the container's own cgroup as their root.
 */
function cgroupMountSteps(m: Mount, flags: number, cgroups: readonly CgroupHierarchy[]): Step[] {
  const how = MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.CREATE_TARGET;
  const dest = m.destination;
  const only = cgroups.length === 1 && cgroups[0]?.subdir === "" ? cgroups[0] : undefined;
  if (only) {
    return [
      step(
        "mount",
        { source: "cgroup", target: dest, fstype: "cgroup2", flags, data: "", how },
        `mount cgroup2 on ${JSON.stringify(dest)}`,
      ),
    ];
  }
  const steps: Step[] = [
    step(
      "mount",
      {
        source: "tmpfs",
        target: dest,
        fstype: "tmpfs",
        flags: flags & ~MS.RDONLY,
        data: "mode=755",
        how,
      },
      `mount tmpfs for cgroups on ${JSON.stringify(dest)}`,
    ),
  ];
  for (const h of cgroups) {
    const target = `${dest}/${h.subdir}`;
    if (h.hostDir) {
      steps.push(
        step(
          "mount",
          { source: h.hostDir, target, fstype: "", flags: MS.BIND | MS.REC, data: "", how },
          `bind the cgroup ${JSON.stringify(h.hostDir)} on ${JSON.stringify(target)}`,
        ),
      );
      const rest = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
      if (rest !== 0) {
        steps.push(
          step(
            "mount",
            {
              source: "",
              target,
              fstype: "",
              flags: rest | MS.BIND | MS.REMOUNT,
              data: "",
              how: MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.SOURCE_NULL,
            },
            `remount ${JSON.stringify(target)} with its flags`,
          ),
        );
      }
      continue;
    }
    steps.push(
      step(
        "mount",
        { source: "cgroup", target, fstype: h.fstype, flags, data: h.data, how },
        `mount ${h.fstype} ${JSON.stringify(h.data)} on ${JSON.stringify(target)}`,
      ),
    );
  }
  if (flags & MS.RDONLY) {
    steps.push(
      step(
        "mount",
        {
          source: "",
          target: dest,
          fstype: "",
          flags: (flags & ~MS.REC) | MS.REMOUNT,
          data: "mode=755",
          how: MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.SOURCE_NULL,
        },
        `remount ${JSON.stringify(dest)} read-only`,
      ),
    );
  }
  return steps;
}
