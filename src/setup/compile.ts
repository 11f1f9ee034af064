/**
 * Compiles a validated runtime spec into the setup program of a container's init (create)
 * or of a process joining a running container (exec). Pure: no syscalls, so every decision
 * here is unit-tested by reading the steps.
 */

import type { CgroupJoin } from "../linux/cgroups.ts";
import { CLONE, JOIN_ORDER, NAMESPACES, type NamespaceType } from "../linux/namespaces.ts";
import type { LinuxIDMapping, Process, Spec } from "../oci/runtime-spec.ts";
import { sysctlPath } from "../oci/sysctl.ts";
import { containerDevices, deviceSteps, devLinkSteps } from "./devices.ts";
import { MS, rootfsPropagationFlags } from "./mount-options.ts";
import {
  type CgroupHierarchy,
  idmapTreeStep,
  isIdmapped,
  propagationSteps as mountPropagationSteps,
  mountSteps,
} from "./mounts.ts";
import {
  type CapabilityPlan,
  execCandidates,
  identitySteps,
  PR,
  rlimitSteps,
  umaskValue,
} from "./process.ts";
import { MOUNT_HOW, type Step, step } from "./program.ts";

/** Tags of `sync` / `report` steps: what the runtime must do when the executor stops there. */
export const TAG = {
  /** Write uid_map/gid_map for the reporting process, then reply GO. */
  USERNS: 1,
  /** Run the prestart, createRuntime and createContainer hooks, then reply GO. */
  HOOKS: 2,
  /** Everything is set up; the executor now waits on the exec FIFO (create) or execs (exec). */
  READY: 3,
  /** The seccomp user-notification listener fd follows. */
  SECCOMP_LISTENER: 4,
} as const;

export interface SeccompPlan {
  filter: Uint8Array;
  flags: number;
  /** Set when the filter has a NOTIFY action and the listener fd must go to the runtime. */
  listener: boolean;
}

export interface CompileOptions {
  spec: Spec;
  /** The bundle directory (bind sources may be relative to it). */
  bundle: string;
  /** The rootfs as an absolute host path. */
  rootfs: string;
  /** Fds the runtime opened for namespaces with a `path`. */
  joinFds: Partial<Record<NamespaceType, number>>;
  /** The exec FIFO opened O_PATH (create), or null (exec). */
  execFifoFd: number | null;
  /** A connected console socket fd when the process has a terminal. */
  consoleSocketFd: number | null;
  /** runc's --preserve-fds: fds 3 .. 3+N-1 pass through. */
  preserveFds: number;
  noPivot: boolean;
  /** Whether hooks must run at the createRuntime point (a HOOKS sync). */
  hooks: boolean;
  capabilities: CapabilityPlan | null;
  seccomp: SeccompPlan | null;
  cgroups: readonly CgroupHierarchy[];
  /** The container's v1 cgroups (`tasks` open for writing), joined by the first steps. */
  cgroupJoins: readonly CgroupJoin[];
}

export interface InitProgram {
  /** clone3 flags (CLONE_PIDFD is added by the addon). */
  cloneFlags: bigint;
  steps: Step[];
  /** Maps to write, and when: at the start byte (`clone`) or at the USERNS sync (`sync`). */
  idmap: { uid: LinuxIDMapping[]; gid: LinuxIDMapping[]; when: "clone" | "sync" } | null;
  /** After `r`: the clone3 child becomes root of its new user namespace before exec. */
  becomeRoot: boolean;
  /** Whether a fork step makes a second process (the FORKED pid is the container's init). */
  forks: boolean;
  /** The fds the clone3 child must keep open across its exec of the executor. */
  passFds: number[];
}

/**
 * The executor's first steps: "0" written to each v1 cgroup's `tasks` moves the writing thread,
 * the executor's only one, without the lock wait of a parent writing its pid (see openV1Joins);
 * before any namespace is entered or process forked, so that every later process is born in
 * the container's cgroups. Each fd is closed at once: none may reach the container.
 */
function cgroupJoinSteps(joins: readonly CgroupJoin[]): Step[] {
  return joins.flatMap((j) => [
    step("write-fd", { fd: j.fd, data: "0" }, `join the cgroup ${JSON.stringify(j.dir)}`),
    step("close-fd", { fd: j.fd }, `close the tasks file of ${JSON.stringify(j.dir)}`),
  ]);
}

function nsList(spec: Spec): { type: NamespaceType; path?: string }[] {
  return (spec.linux?.namespaces ?? []) as { type: NamespaceType; path?: string }[];
}

function hasNew(spec: Spec, type: NamespaceType): boolean {
  return nsList(spec).some((n) => n.type === type && !n.path);
}

function has(spec: Spec, type: NamespaceType): boolean {
  return nsList(spec).some((n) => n.type === type);
}

/**
 * The part of a program that enters namespaces: clone3 flags plus setns/unshare/fork steps.
 * With `late` the executor starts in the host's namespaces and unshares them itself, as when
 * joining: id-mapped mount trees must be made as root of the host's user namespace, and with
 * the host's pids (their helper's /proc/PID/uid_map must name the right process).
 */
function namespaceSteps(
  spec: Spec,
  joinFds: Partial<Record<NamespaceType, number>>,
  late = false,
): Pick<InitProgram, "cloneFlags" | "idmap" | "becomeRoot" | "forks"> & { steps: Step[] } {
  const list = nsList(spec);
  const uid = spec.linux?.uidMappings ?? [];
  const gid = spec.linux?.gidMappings ?? [];
  const newUser = hasNew(spec, "user");
  const joined = list.filter((n) => n.path);
  const newTime = hasNew(spec, "time");
  // Time offsets must be written before any process enters the namespace, so a new time
  // namespace is always made by unshare in the executor, never by clone3.
  const unshareLater = (t: NamespaceType) => t === "time";

  if (joined.length === 0 && !late) {
    let cloneFlags = 0n;
    for (const n of list) if (!unshareLater(n.type)) cloneFlags |= NAMESPACES[n.type].flag;
    const steps: Step[] = [];
    if (newTime) steps.push(...timeSteps(spec));
    return {
      cloneFlags,
      steps,
      idmap: newUser ? { uid, gid, when: "clone" } : null,
      becomeRoot: newUser,
      forks: false,
    };
  }

  // Joining: setns first (the user namespace first of all), then unshare what is new, then
  // fork so that a new or joined pid namespace takes effect.
  const steps: Step[] = [];
  for (const type of JOIN_ORDER) {
    const fd = joinFds[type];
    const entry = joined.find((n) => n.type === type);
    if (!entry) continue;
    if (fd === undefined) throw new Error(`no fd opened for the ${type} namespace ${entry.path}`);
    steps.push(
      step(
        "setns",
        { fd, nstype: NAMESPACES[type].flag },
        `join the ${type} namespace ${JSON.stringify(entry.path)}`,
      ),
    );
  }
  if (newUser) {
    steps.push(step("unshare", { flags: CLONE.NEWUSER }, "create the user namespace"));
    steps.push(step("sync", { tag: TAG.USERNS }, "wait for the uid and gid maps"));
    steps.push(step("setresgid", { gid: 0 }, "become gid 0 in the user namespace"));
    steps.push(step("setresuid", { uid: 0 }, "become uid 0 in the user namespace"));
  }
  let rest = 0n;
  for (const n of list) {
    if (n.path || n.type === "user" || unshareLater(n.type)) continue;
    rest |= NAMESPACES[n.type].flag;
  }
  if (rest !== 0n) steps.push(step("unshare", { flags: rest }, "create the new namespaces"));
  if (newTime) steps.push(...timeSteps(spec));
  const forks = has(spec, "pid");
  if (forks) steps.push(step("fork", { flags: 0 }, "fork into the pid namespace"));
  return {
    cloneFlags: 0n,
    steps,
    idmap: newUser ? { uid, gid, when: "sync" } : null,
    becomeRoot: false,
    forks,
  };
}

function timeSteps(spec: Spec): Step[] {
  const steps: Step[] = [step("unshare", { flags: CLONE.NEWTIME }, "create the time namespace")];
  const offsets = spec.linux?.timeOffsets ?? {};
  const lines = Object.entries(offsets)
    .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
    .join("");
  if (lines) {
    steps.push(
      step(
        "write-file",
        { path: "/proc/self/timens_offsets", data: lines, inRoot: 0 },
        "write the time namespace offsets",
      ),
    );
  }
  return steps;
}

/**
 * The rootfs, mounts, devices and pivot_root, for a container with a new mount namespace, in
 * runc's order. The host's tree (as copied into the namespace) first gets rootfsPropagation
 * (default rslave), which decides what binds of host paths inherit; then the mount holding
 * the rootfs is made private, so that neither the rootfs bind nor anything mounted below it
 * propagates back to the host (and pivot_root, which refuses a shared parent, works).
 * `slots` maps a spec mount's index to the slot of its id-mapped tree.
 */
function rootfsSteps(o: CompileOptions, inUserns: boolean, slots: Map<number, number>): Step[] {
  const { spec } = o;
  const steps: Step[] = [];
  const hostRoot = MOUNT_HOW.SOURCE_NULL;
  steps.push(
    step(
      "mount",
      {
        source: "",
        target: "/",
        fstype: "",
        flags: hostTreePropagation(spec.linux?.rootfsPropagation),
        data: "",
        how: hostRoot,
      },
      "set the propagation of the host root in the new mount namespace",
    ),
  );
  steps.push(
    step(
      "privatize-mount",
      { path: o.rootfs },
      `make the mount holding the rootfs ${JSON.stringify(o.rootfs)} private`,
    ),
  );
  steps.push(
    step(
      "mount",
      { source: o.rootfs, target: o.rootfs, fstype: "", flags: MS.BIND | MS.REC, data: "", how: 0 },
      `bind the rootfs ${JSON.stringify(o.rootfs)} onto itself`,
    ),
  );
  steps.push(step("open-root", { path: o.rootfs }, `open the rootfs ${JSON.stringify(o.rootfs)}`));
  steps.push(step("umask", { mask: 0 }, "clear the umask while creating devices"));
  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => {
    steps.push(...mountSteps(m, o.bundle, o.cgroups, slots.get(i)));
  });
  // runc creates devices only when /dev is not the host's own /dev bound in.
  const devBound = mounts.some(
    (m) => m.destination === "/dev" && (m.type === "bind" || m.options?.includes("rbind")),
  );
  if (!devBound) {
    steps.push(...deviceSteps(containerDevices(spec.linux?.devices), inUserns));
    steps.push(...devLinkSteps());
  }
  if (o.hooks) steps.push(step("sync", { tag: TAG.HOOKS }, "run the createRuntime hooks"));
  if (o.noPivot) steps.push(step("move-root", {}, "move the rootfs to / (--no-pivot)"));
  else steps.push(step("pivot-root", {}, "pivot_root into the rootfs"));
  return steps;
}

/**
 * rootfsPropagation as applied to the host's tree in the new namespace. An unbindable tree
 * would refuse every bind of a host path (runc fails there); private keeps the host out just
 * the same, and the container's own tree becomes unbindable after pivot_root.
 */
function hostTreePropagation(value: string | undefined): number {
  const flags = rootfsPropagationFlags(value);
  return flags & MS.UNBINDABLE ? (flags & ~MS.UNBINDABLE) | MS.PRIVATE : flags;
}

/**
 * Propagation inside the container, once its tree is complete: rootfsPropagation on the new
 * root (the rootfs bind was made under a private parent, so only now can it become shared or
 * unbindable; runc does the same since opencontainers/runc#4724), then each mount's own
 * words, which therefore win over it. It comes after masking, whose binds an unbindable
 * tree would refuse.
 */
function propagationSteps(spec: Spec): Step[] {
  const steps: Step[] = [];
  const value = spec.linux?.rootfsPropagation;
  if (value) {
    steps.push(
      step(
        "mount",
        {
          source: "",
          target: "/",
          fstype: "",
          flags: rootfsPropagationFlags(value),
          data: "",
          how: MOUNT_HOW.SOURCE_NULL,
        },
        `set the propagation of the container's root to ${value}`,
      ),
    );
  }
  for (const m of spec.mounts ?? []) steps.push(...mountPropagationSteps(m));
  return steps;
}

/** Id-mapped mounts: the steps that make their trees, and each one's slot by mount index. */
function idmapTrees(spec: Spec, bundle: string): { steps: Step[]; slots: Map<number, number> } {
  const steps: Step[] = [];
  const slots = new Map<number, number>();
  const container = { uid: spec.linux?.uidMappings, gid: spec.linux?.gidMappings };
  (spec.mounts ?? []).forEach((m, i) => {
    if (!isIdmapped(m)) return;
    slots.set(i, steps.length);
    steps.push(idmapTreeStep(m, bundle, steps.length, hasNew(spec, "user") ? container : {}));
  });
  return { steps, slots };
}

function hardeningSteps(spec: Spec): Step[] {
  const steps: Step[] = [];
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const rel = sysctlPath(key);
    if (rel === undefined) throw new RangeError(`invalid sysctl name ${JSON.stringify(key)}`);
    const path = `/proc/sys/${rel}`;
    // Only into the container's own procfs: never through something bound over the path.
    steps.push(step("write-procfs", { path, data: value }, `set sysctl ${key}`));
  }
  for (const path of spec.linux?.readonlyPaths ?? []) {
    steps.push(step("readonly-path", { path }, `make ${JSON.stringify(path)} read-only`));
  }
  for (const path of spec.linux?.maskedPaths ?? []) {
    steps.push(step("mask-path", { path }, `mask ${JSON.stringify(path)}`));
  }
  if (spec.root?.readonly) {
    steps.push(
      step(
        "mount",
        {
          source: "",
          target: "",
          fstype: "",
          flags: MS.BIND | MS.REMOUNT | MS.RDONLY,
          data: "",
          how: MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.SOURCE_NULL,
        },
        "remount the rootfs read-only",
      ),
    );
  }
  return steps;
}

/** From the terminal to exec: the part init and exec share. */
function processSteps(
  process: Process,
  o: {
    consoleSocketFd: number | null;
    preserveFds: number;
    keep: number[];
    capabilities: CapabilityPlan | null;
    seccomp: SeccompPlan | null;
    execFifoFd: number | null;
  },
): Step[] {
  const steps: Step[] = [];
  steps.push(...rlimitSteps(process));
  if (process.oomScoreAdj !== undefined) {
    steps.push(
      step(
        "write-file",
        { path: "/proc/self/oom_score_adj", data: String(process.oomScoreAdj), inRoot: 0 },
        `set oom_score_adj ${process.oomScoreAdj}`,
      ),
    );
  }
  if (process.terminal && o.consoleSocketFd !== null) {
    const size = process.consoleSize ?? { height: 0, width: 0 };
    steps.push(
      step(
        "console",
        { socket: o.consoleSocketFd, rows: size.height, cols: size.width },
        "set up the console",
      ),
    );
  }
  // Close inherited fds before anything resolves a path (CVE-2024-21626).
  steps.push(
    step(
      "close-fds",
      { first: 3 + o.preserveFds, keep: o.keep },
      "close the fds the container must not inherit",
    ),
  );
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the caps go.
  const seccompStep = o.seccomp
    ? step(
        "seccomp",
        {
          flags: o.seccomp.flags,
          filter: o.seccomp.filter,
          tag: o.seccomp.listener ? TAG.SECCOMP_LISTENER : 0,
        },
        "load the seccomp filter",
      )
    : null;
  if (seccompStep && !process.noNewPrivileges) steps.push(seccompStep);
  steps.push(...identitySteps(process, o.capabilities));
  steps.push(step("umask", { mask: umaskValue(process) }, "set the umask"));
  const cwd = process.cwd || "/";
  steps.push(step("chdir", { path: cwd }, `change directory to ${JSON.stringify(cwd)}`));
  if (process.noNewPrivileges) {
    steps.push(
      step(
        "prctl",
        { option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0, arg4: 0, arg5: 0 },
        "set no_new_privs",
      ),
    );
  }
  const env = process.env ?? [];
  const candidates = execCandidates(process.args ?? [], env);
  const name = JSON.stringify(process.args?.[0] ?? "");
  steps.push(step("find-exec", { candidates }, `find the executable ${name}`));
  // With no_new_privs the filter goes last, so that it judges only the container's own calls.
  if (seccompStep && process.noNewPrivileges) steps.push(seccompStep);
  steps.push(step("report", { tag: TAG.READY }, "report that setup is done"));
  if (o.execFifoFd !== null) {
    steps.push(step("wait-for-start", { fifo: o.execFifoFd }, "wait for start on the exec FIFO"));
  }
  steps.push(step("exec", { candidates, argv: process.args ?? [], envp: env }, `exec ${name}`));
  return steps;
}

/** The program of a container's init: `create`. */
export function compileInit(o: CompileOptions): InitProgram {
  const { spec } = o;
  const process = spec.process;
  if (!process) throw new Error("the spec has no process to run");
  const newMount = hasNew(spec, "mount");
  const trees = idmapTrees(spec, o.bundle);
  if (trees.steps.length > 0 && !newMount) {
    throw new RangeError("id-mapped mounts need a new mount namespace");
  }
  // Trees are made first, in the host's namespaces; the new ones are then entered by unshare
  // rather than by clone3.
  const ns = namespaceSteps(spec, o.joinFds, trees.steps.length > 0);
  const steps = [...cgroupJoinSteps(o.cgroupJoins), ...trees.steps, ...ns.steps];
  const inUserns = has(spec, "user");
  if (newMount) steps.push(...rootfsSteps(o, inUserns, trees.slots));
  else {
    if (o.hooks) steps.push(step("sync", { tag: TAG.HOOKS }, "run the createRuntime hooks"));
    steps.push(step("open-root", { path: o.rootfs }, "open the rootfs"));
  }
  if (spec.hostname !== undefined && hasNew(spec, "uts")) {
    steps.push(step("sethostname", { name: spec.hostname }, `set the hostname ${spec.hostname}`));
  }
  if (spec.domainname !== undefined && hasNew(spec, "uts")) {
    steps.push(
      step("setdomainname", { name: spec.domainname }, `set the domainname ${spec.domainname}`),
    );
  }
  if (newMount) steps.push(...hardeningSteps(spec), ...propagationSteps(spec));
  const keep = o.execFifoFd !== null ? [o.execFifoFd] : [];
  steps.push(
    ...processSteps(process, {
      consoleSocketFd: o.consoleSocketFd,
      preserveFds: o.preserveFds,
      keep,
      capabilities: o.capabilities,
      seccomp: o.seccomp,
      execFifoFd: o.execFifoFd,
    }),
  );
  const passFds = [
    ...Array.from({ length: o.preserveFds }, (_, i) => 3 + i),
    ...Object.values(o.joinFds),
    ...(o.execFifoFd !== null ? [o.execFifoFd] : []),
    ...(o.consoleSocketFd !== null ? [o.consoleSocketFd] : []),
    ...o.cgroupJoins.map((j) => j.fd),
  ];
  return { ...ns, steps, passFds };
}

export interface ExecOptions {
  /** The container's spec (for its user namespace and seccomp decisions). */
  spec: Spec;
  process: Process;
  /** Fds of /proc/<init>/ns/* for every namespace the container has, by type. */
  nsFds: Partial<Record<NamespaceType, number>>;
  consoleSocketFd: number | null;
  preserveFds: number;
  capabilities: CapabilityPlan | null;
  seccomp: SeccompPlan | null;
  /** The container's v1 cgroups, as for compileInit. */
  cgroupJoins: readonly CgroupJoin[];
}

/** The program of a process joining a running container: `exec`. */
export function compileExec(o: ExecOptions): InitProgram {
  const steps: Step[] = cgroupJoinSteps(o.cgroupJoins);
  for (const type of JOIN_ORDER) {
    const fd = o.nsFds[type];
    if (fd === undefined) continue;
    steps.push(step("setns", { fd, nstype: NAMESPACES[type].flag }, `join the ${type} namespace`));
  }
  const forks = o.nsFds.pid !== undefined;
  if (forks) steps.push(step("fork", { flags: 0 }, "fork into the pid namespace"));
  steps.push(step("open-root", { path: "/" }, "open the container's root"));
  steps.push(
    ...processSteps(o.process, {
      consoleSocketFd: o.consoleSocketFd,
      preserveFds: o.preserveFds,
      keep: [],
      capabilities: o.capabilities,
      seccomp: o.seccomp,
      execFifoFd: null,
    }),
  );
  const passFds = [
    ...Array.from({ length: o.preserveFds }, (_, i) => 3 + i),
    ...Object.values(o.nsFds),
    ...(o.consoleSocketFd !== null ? [o.consoleSocketFd] : []),
    ...o.cgroupJoins.map((j) => j.fd),
  ];
  return { cloneFlags: 0n, steps, idmap: null, becomeRoot: false, forks, passFds };
}
