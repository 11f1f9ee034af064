/**
 * The host's cgroup hierarchies and a container's place in them: v1 controllers, cgroup2
 * (unified), or both on a hybrid host. Creates and removes a container's cgroup directories
 * and lists the processes in them. Resource limits build on this (issue 8).
 */
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, posix } from "node:path";
import { syscallError } from "../errors.ts";

export interface Hierarchy {
  /** Where the hierarchy is mounted on the host. */
  mountpoint: string;
  fstype: "cgroup" | "cgroup2";
  /** v1: the controllers and name= options ("memory", "cpu,cpuacct", "name=systemd"); v2: "". */
  controllers: string;
  /** The root of the hierarchy as this mount shows it (mountinfo's root field). */
  root: string;
}

const NOT_CONTROLLERS = new Set([
  "rw",
  "ro",
  "xattr",
  "clone_children",
  "noprefix",
  "cpuset_v2_mode",
]);

/** The cgroup mounts of a mountinfo text, one per hierarchy (the first mount of each wins). */
export function parseCgroupMounts(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const fstype = right[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const mountpoint = left[4] ?? "";
    const root = left[3] ?? "/";
    const controllers =
      fstype === "cgroup2"
        ? ""
        : (right[2] ?? "")
            .split(",")
            .filter((o) => !NOT_CONTROLLERS.has(o) && !o.startsWith("release_agent="))
            .join(",");
    const key = `${fstype}:${controllers}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ mountpoint, fstype, controllers, root });
  }
  return out;
}

export function hostHierarchies(): Hierarchy[] {
  return parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"));
}

/** The process's own cgroup in each hierarchy, from /proc/PID/cgroup. */
export function parseProcCgroup(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    const controllers = line.slice(first + 1, second);
    m.set(controllers, line.slice(second + 1));
  }
  return m;
}

/**
 * Turns `linux.cgroupsPath` into a path below each hierarchy's root: absolute paths are used as
 * they are; relative ones are below the runtime's own cgroup; the systemd form
 * "slice:prefix:name" becomes the plain path "/slice/prefix-name.scope". Absent: "<id>",
 * relative, as runc places a container without a cgroupsPath.
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, id: string): string {
  if (!cgroupsPath) return id;
  const parts = cgroupsPath.split(":");
  if (parts.length === 3 && !cgroupsPath.startsWith("/")) {
    const [slice, prefix, name] = parts;
    return posix.join("/", slice || "", `${prefix}-${name}.scope`);
  }
  return cgroupsPath;
}

/** The directory of a cgroup path in one hierarchy. Relative paths hang below `own`. */
export function cgroupDir(h: Hierarchy, path: string, own: string): string {
  const abs = path.startsWith("/") ? path : posix.join(own, path);
  const rel = posix.relative(h.root, posix.join("/", abs));
  return join(h.mountpoint, rel.startsWith("..") ? abs : rel);
}

export interface ContainerCgroup {
  /** One directory per hierarchy. */
  dirs: string[];
  /** The cgroup2 directory, when the host has cgroup2. */
  unified: string | null;
  /** Where cgroup2 is mounted, when the host has it. */
  unifiedMount: string | null;
  /** v1: each controller's directory ("memory" -> /sys/fs/cgroup/memory/c1); named hierarchies are left out. */
  v1: Record<string, string>;
  /** Each directory with the hierarchy it belongs to (for the container's /sys/fs/cgroup). */
  placed: { hierarchy: Hierarchy; dir: string }[];
}

/** Which controllers a v1 hierarchy's option string binds ("cpu,cpuacct" -> cpu, cpuacct). */
function boundControllers(h: Hierarchy): string[] {
  return h.fstype === "cgroup"
    ? h.controllers.split(",").filter((c) => c !== "" && !c.startsWith("name="))
    : [];
}

/** Builds the container's view from directories made by createContainerCgroup (or a record). */
export function cgroupFromDirs(
  dirs: readonly string[],
  hierarchies: readonly Hierarchy[] = hostHierarchies(),
): ContainerCgroup {
  const cg: ContainerCgroup = {
    dirs: [...dirs],
    unified: null,
    unifiedMount: null,
    v1: {},
    placed: [],
  };
  for (const dir of dirs) {
    // The longest mountpoint that contains dir is its hierarchy (a v2 mount may hold v1 ones).
    let best: Hierarchy | undefined;
    for (const h of hierarchies) {
      if (dir !== h.mountpoint && !dir.startsWith(`${h.mountpoint}/`)) continue;
      if (!best || h.mountpoint.length > best.mountpoint.length) best = h;
    }
    if (!best) continue;
    cg.placed.push({ hierarchy: best, dir });
    if (best.fstype === "cgroup2") {
      cg.unified = dir;
      cg.unifiedMount = best.mountpoint;
    } else {
      for (const c of boundControllers(best)) cg.v1[c] = dir;
    }
  }
  return cg;
}

/**
 * A new v1 cpuset cgroup starts with empty cpus and mems, and no process may join it until
 * both are set: copy them down from the nearest ancestor that has them, as runc does.
 */
function initCpuset(dir: string, mountpoint: string): void {
  if (dir === mountpoint || !dir.startsWith(`${mountpoint}/`)) return;
  const parent = dirname(dir);
  initCpuset(parent, mountpoint);
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    const path = join(dir, file);
    let mine: string;
    try {
      mine = readFileSync(path, "utf8").trim();
    } catch (e) {
      throw syscallError(`read ${JSON.stringify(path)}`, e);
    }
    if (mine !== "") continue;
    const value = readFileSync(join(parent, file), "utf8").trim();
    try {
      writeFileSync(path, value);
    } catch (e) {
      throw syscallError(
        `copy ${file} ${JSON.stringify(value)} from the parent to ${JSON.stringify(path)}`,
        e,
      );
    }
  }
}

/** The host's hierarchies and hood's own place in each, read once per command. */
export interface HostCgroups {
  hierarchies: Hierarchy[];
  /** /proc/self/cgroup: controllers ("" for cgroup2) -> path. */
  own: Map<string, string>;
}

export function readHostCgroups(): HostCgroups {
  return {
    hierarchies: hostHierarchies(),
    own: parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8")),
  };
}

/** Creates the container's cgroup directory in every hierarchy. */
export function createContainerCgroup(
  cgroupsPath: string | undefined,
  id: string,
  host: HostCgroups = readHostCgroups(),
): ContainerCgroup {
  const path = resolveCgroupPath(cgroupsPath, id);
  const { own, hierarchies } = host;
  const dirs: string[] = [];
  try {
    for (const h of hierarchies) {
      const key = h.fstype === "cgroup2" ? "" : h.controllers;
      // On cgroup2 the runtime's own cgroup holds processes, so it may not have children with
      // controllers: a relative path hangs below its parent instead (as in runc).
      const base = own.get(key) ?? "/";
      const dir = cgroupDir(h, path, h.fstype === "cgroup2" ? posix.dirname(base) : base);
      try {
        mkdirSync(dir, { recursive: true });
      } catch (e) {
        throw syscallError(`create the cgroup ${JSON.stringify(dir)}`, e);
      }
      dirs.push(dir);
      if (boundControllers(h).includes("cpuset")) initCpuset(dir, h.mountpoint);
    }
  } catch (e) {
    for (const dir of dirs) {
      try {
        rmdirSync(dir);
      } catch {
        // best effort: the error that matters is e
      }
    }
    throw e;
  }
  return cgroupFromDirs(dirs, hierarchies);
}

/** The controllers a cgroup2 directory may use (cgroup.controllers), or [] when unreadable. */
export function v2Controllers(dir: string): string[] {
  try {
    return readFileSync(join(dir, "cgroup.controllers"), "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Makes controllers usable in a cgroup2 directory: each ancestor below the mount must have them
 * in its cgroup.subtree_control (as runc's CreateCgroupPath does on a unified host).
 */
export function enableV2Controllers(
  dir: string,
  mount: string,
  controllers: readonly string[],
): void {
  if (controllers.length === 0 || dir === mount) return;
  const chain: string[] = [];
  for (let d = dirname(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (d === mount || d === "/" || !d.startsWith(mount)) break;
  }
  for (const d of chain) {
    const enabled = new Set(
      readFileSync(join(d, "cgroup.subtree_control"), "utf8").trim().split(/\s+/).filter(Boolean),
    );
    const missing = controllers.filter((c) => !enabled.has(c));
    if (missing.length === 0) continue;
    const path = join(d, "cgroup.subtree_control");
    try {
      writeFileSync(path, missing.map((c) => `+${c}`).join(" "));
    } catch (e) {
      throw syscallError(
        `enable the ${missing.join(", ")} controller in ${JSON.stringify(path)}`,
        e,
      );
    }
  }
}

/** A v1 cgroup's `tasks` file, open for writing, for the executor to join (see openV1Joins). */
export interface CgroupJoin {
  dir: string;
  fd: number;
}

/**
 * Opens `tasks` in every v1 directory (cgroup2 is joined at clone time with CLONE_INTO_CGROUP).
 * The executor joins each by writing "0" to it: a thread moving itself. Writing a pid to
 * `cgroup.procs` from the parent, as runc does, takes cgroup_threadgroup_rwsem for writing, and
 * the first writer after a quiet spell waits for an RCU grace period (5-20 ms here, a third of a
 * container's start). The kernel skips that lock when the thread being moved is the writer
 * itself, and the executor has one thread, so the whole process moves. The fds are opened here,
 * as root in the host's namespaces: the write is checked against the opener's credentials, so a
 * new user namespace does not stand in the way.
 */
export function openV1Joins(dirs: readonly string[], unified: string | null): CgroupJoin[] {
  const joins: CgroupJoin[] = [];
  try {
    for (const dir of dirs) {
      if (dir === unified) continue;
      const path = join(dir, "tasks");
      try {
        joins.push({ dir, fd: openSync(path, constants.O_WRONLY) });
      } catch (e) {
        throw syscallError(`open ${JSON.stringify(path)} to join the cgroup`, e);
      }
    }
  } catch (e) {
    for (const j of joins) closeSync(j.fd);
    throw e;
  }
  return joins;
}

/** Every pid in the container's cgroup (the first directory that can be read). */
export function cgroupPids(dirs: readonly string[]): number[] {
  for (const dir of dirs) {
    try {
      return readFileSync(join(dir, "cgroup.procs"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map(Number);
    } catch {
      // try the next hierarchy
    }
  }
  return [];
}

/**
 * Removes the container's cgroup directories, children first (a container may make its own
 * sub-cgroups); ENOENT is fine, EBUSY is retried briefly while the last processes exit.
 */
export async function removeContainerCgroup(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await removeTree(dir);
}

async function removeTree(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 50) {
        throw syscallError(`remove the cgroup ${JSON.stringify(dir)}`, e);
      }
    }
    // Busy: sub-cgroups, or processes still leaving. A cgroup directory lists dozens of
    // control files, so it is read only once a plain rmdir has been refused.
    const children = subdirectories(dir);
    if (children.length > 0) {
      for (const child of children) await removeTree(child);
    } else {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return []; // gone or unreadable: the next rmdir says which
  }
}

/** True when the directory exists and holds the named file (a controller's interface file). */
export function hasFile(dir: string, file: string): boolean {
  return existsSync(join(dir, file));
}

/** One value to write into one cgroup file, and the spec field it comes from. */
export interface CgroupWrite {
  /** v1: the controller whose directory holds the file; v2: the file's controller ("" for core files). */
  controller: string;
  file: string;
  value: string;
  /** The spec field applied, for messages: "linux.resources.memory.limit". */
  field: string;
  /**
   * EINVAL is not final: try again after this controller's later writes (a smaller CFS period
   * or a larger burst can be refused until the quota has changed).
   */
  retryLater?: boolean;
  /** The kernel clamps without an error: read the value back and fail when it differs. */
  readBack?: boolean;
  /** ENOENT means this kernel lacks the knob: skip the write. */
  optional?: boolean;
}

/** A number as the kernel wants it: integers beyond 2^53 keep their digits. */
export function decimal(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}
