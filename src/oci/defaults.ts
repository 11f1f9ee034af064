/**
 * runc's defaults: the config `runc spec` writes (runc 1.1, field for field and in runc's
 * field order, so that `hood spec` writes the same bytes), and what runc gives every container
 * whatever its config says: the default devices, the /dev symlinks, and the cgroup device rules.
 */
import type {
  LinuxDevice,
  LinuxDeviceCgroup,
  LinuxIDMapping,
  LinuxNamespace,
  Mount,
  Spec,
} from "./runtime-spec.ts";

/** The ociVersion runc 1.1 writes. */
export const RUNC_SPEC_VERSION = "1.0.2-dev";

/** Paths runc's example config masks (`linux.maskedPaths`). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];

/** Paths runc's example config makes read-only (`linux.readonlyPaths`). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/**
 * The device nodes runc creates in every container (in runc's order); an entry of
 * `linux.devices` with the same path replaces one. In a user namespace runc bind-mounts the
 * host's node instead of calling mknod.
 */
export const DEFAULT_DEVICES: readonly LinuxDevice[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
];

/**
 * The device cgroup rules runc appends after the config's own (runc's AllowedDevices):
 * mknod of any char or block device, the six default devices, /dev/pts/* and /dev/ptmx.
 */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = [
  { allow: true, type: "c", major: -1, minor: -1, access: "m" },
  { allow: true, type: "b", major: -1, minor: -1, access: "m" },
  ...DEFAULT_DEVICES.map(
    (d): LinuxDeviceCgroup => ({
      allow: true,
      type: "c",
      major: d.major!,
      minor: d.minor!,
      access: "rwm",
    }),
  ),
  { allow: true, type: "c", major: 136, minor: -1, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
];

/** A symlink to create inside the container: `path` points to `target`. */
export interface DevSymlink {
  target: string;
  path: string;
}

/**
 * The symlinks runc makes in /dev. /dev/ptmx replaces any node there with a link into the
 * container's own devpts instance.
 */
export const DEFAULT_DEV_SYMLINKS: readonly DevSymlink[] = [
  { target: "/proc/self/fd", path: "/dev/fd" },
  { target: "/proc/self/fd/0", path: "/dev/stdin" },
  { target: "/proc/self/fd/1", path: "/dev/stdout" },
  { target: "/proc/self/fd/2", path: "/dev/stderr" },
  { target: "pts/ptmx", path: "/dev/ptmx" },
];

/** runc also links /dev/core to /proc/kcore, but only when the host has /proc/kcore. */
export const KCORE_SYMLINK: DevSymlink = { target: "/proc/kcore", path: "/dev/core" };

const DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export interface DefaultSpecOptions {
  /** `runc spec --rootless`: a user namespace mapping root to the caller, no network namespace. */
  rootless?: boolean;
  /** The process's args; `["sh"]` by default. */
  args?: string[];
  /** The host uid and gid that container root maps to when rootless (default: effective ids). */
  hostUid?: number;
  hostGid?: number;
  /** Add a cgroup namespace, as runc does when the host runs cgroup v2 only. */
  cgroupNamespace?: boolean;
}

/**
 * The config `runc spec` writes. Its members are in runc's order, so that
 * `JSON.stringify(defaultSpec(), null, "\t")` is byte for byte runc's config.json.
 */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const caps = () => [...DEFAULT_CAPABILITIES];
  const namespaces: LinuxNamespace[] = [
    { type: "pid" },
    { type: "network" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
  ];
  if (opts.cgroupNamespace) namespaces.push({ type: "cgroup" });
  const spec: Spec = {
    ociVersion: RUNC_SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: [...(opts.args ?? ["sh"])],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runc",
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  return opts.rootless ? toRootless(spec, opts) : spec;
}

function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

/** runc's ToRootless: what an unprivileged user can set up. */
function toRootless(spec: Spec, opts: DefaultSpecOptions): Spec {
  const linux = spec.linux!;
  const mapping = (hostID: number): LinuxIDMapping[] => [{ containerID: 0, hostID, size: 1 }];
  const mounts = spec.mounts!.map((m): Mount => {
    // A new sysfs needs a network namespace the user owns; bind the host's instead.
    if (m.destination === "/sys") {
      return {
        destination: "/sys",
        type: "none",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      };
    }
    // Only the caller's ids are mapped, so gid=5 and the like would name unmapped ids.
    const options = m.options?.filter((o) => !o.startsWith("gid=") && !o.startsWith("uid="));
    return options ? { ...m, options } : { ...m };
  });
  return {
    ...spec,
    mounts,
    // Rebuilt rather than edited, to keep runc's member order (mappings first, no resources).
    linux: {
      uidMappings: mapping(opts.hostUid ?? process.geteuid?.() ?? 0),
      gidMappings: mapping(opts.hostGid ?? process.getegid?.() ?? 0),
      namespaces: [
        ...linux.namespaces!.filter((ns) => ns.type !== "network" && ns.type !== "user"),
        { type: "user" },
      ],
      maskedPaths: linux.maskedPaths,
      readonlyPaths: linux.readonlyPaths,
    },
  };
}
