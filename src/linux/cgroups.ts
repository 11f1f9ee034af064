/**
 * The host's cgroup hierarchies and a container's place in them: v1 controllers, cgroup2
 * (unified), or both on a hybrid host. Creates and removes a container's cgroup directories
 * and lists the processes in them. Resource limits build on this (issue 8).
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
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
 * "slice:prefix:name" becomes the plain path "/slice/prefix-name.scope". Absent: "/<id>".
 */
export function resolveCgroupPath(cgroupsPath: string | undefined, id: string): string {
  if (!cgroupsPath) return `/${id}`;
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
}

/** Creates the container's cgroup directory in every hierarchy. */
export function createContainerCgroup(
  cgroupsPath: string | undefined,
  id: string,
): ContainerCgroup {
  const path = resolveCgroupPath(cgroupsPath, id);
  const own = parseProcCgroup(readFileSync("/proc/self/cgroup", "utf8"));
  const dirs: string[] = [];
  let unified: string | null = null;
  for (const h of hostHierarchies()) {
    const key = h.fstype === "cgroup2" ? "" : h.controllers;
    const dir = cgroupDir(h, path, own.get(key) ?? "/");
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw syscallError(`create the cgroup ${JSON.stringify(dir)}`, e);
    }
    dirs.push(dir);
    if (h.fstype === "cgroup2") unified = dir;
  }
  return { dirs, unified };
}

/** Moves pid into every v1 directory (v2 is joined at clone time with CLONE_INTO_CGROUP). */
export function joinV1(dirs: readonly string[], unified: string | null, pid: number): void {
  for (const dir of dirs) {
    if (dir === unified) continue;
    try {
      writeFileSync(join(dir, "cgroup.procs"), String(pid));
    } catch (e) {
      throw syscallError(`add pid ${pid} to the cgroup ${JSON.stringify(dir)}`, e);
    }
  }
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

/** Removes the container's cgroup directories; ENOENT is fine, EBUSY is retried briefly. */
export async function removeContainerCgroup(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") break;
        if (code === "EBUSY" && attempt < 50) {
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        throw syscallError(`remove the cgroup ${JSON.stringify(dir)}`, e);
      }
    }
  }
}
