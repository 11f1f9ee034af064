/** Namespace kinds: the runtime-spec names, their clone flags and their /proc/PID/ns file names. */

export type NamespaceType =
  | "pid"
  | "network"
  | "mount"
  | "ipc"
  | "uts"
  | "user"
  | "cgroup"
  | "time";

export const CLONE = {
  NEWTIME: 0x80n,
  VM: 0x100n,
  FS: 0x200n,
  FILES: 0x400n,
  SIGHAND: 0x800n,
  PIDFD: 0x1000n,
  PARENT: 0x8000n,
  NEWNS: 0x20000n,
  NEWCGROUP: 0x2000000n,
  NEWUTS: 0x4000000n,
  NEWIPC: 0x8000000n,
  NEWUSER: 0x10000000n,
  NEWPID: 0x20000000n,
  NEWNET: 0x40000000n,
  INTO_CGROUP: 0x200000000n,
} as const;

export const NAMESPACES: Record<NamespaceType, { flag: bigint; proc: string }> = {
  user: { flag: CLONE.NEWUSER, proc: "user" },
  mount: { flag: CLONE.NEWNS, proc: "mnt" },
  pid: { flag: CLONE.NEWPID, proc: "pid" },
  network: { flag: CLONE.NEWNET, proc: "net" },
  ipc: { flag: CLONE.NEWIPC, proc: "ipc" },
  uts: { flag: CLONE.NEWUTS, proc: "uts" },
  cgroup: { flag: CLONE.NEWCGROUP, proc: "cgroup" },
  time: { flag: CLONE.NEWTIME, proc: "time" },
};

/**
 * The order in which namespaces are joined with setns: the user namespace first (it grants
 * the capabilities the others need), the mount namespace late (it changes how later paths
 * resolve), pid last (it only affects children).
 */
export const JOIN_ORDER: readonly NamespaceType[] = [
  "user",
  "ipc",
  "uts",
  "network",
  "cgroup",
  "time",
  "mount",
  "pid",
];

export function isNamespaceType(value: string): value is NamespaceType {
  return Object.hasOwn(NAMESPACES, value);
}
