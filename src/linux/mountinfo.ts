/**
 * /proc/PID/mountinfo (proc(5)): one mount per line,
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime shared:2 master:1 - ext3 /dev/root rw,errors=continue
 *
 * id, parent id, st_dev, the root of the mount within its filesystem, the mount point, the
 * per-mount options, zero or more optional fields ended by "-", the filesystem type, the
 * source and the superblock options. The optional fields carry the shared-subtree state
 * (Documentation/filesystems/sharedsubtree.rst): `shared:N` (member of peer group N),
 * `master:N` (slave of peer group N), `propagate_from:N` (the nearest dominant peer group
 * this namespace can see) and `unbindable`. Peer group ids are global, so the same N seen
 * from two namespaces is the same group.
 */
import { readFileSync } from "node:fs";
import { syscallError } from "../errors.ts";

export interface Propagation {
  /** The peer group this mount belongs to (`shared:N`). */
  shared?: number;
  /** The peer group this mount is a slave of (`master:N`). */
  master?: number;
  /** The nearest dominant peer group visible from this namespace (`propagate_from:N`). */
  propagateFrom?: number;
  unbindable: boolean;
}

export interface MountInfo {
  id: number;
  parent: number;
  major: number;
  minor: number;
  /** The directory of the filesystem that is mounted (a bind shows its subdirectory). */
  root: string;
  mountPoint: string;
  options: string[];
  propagation: Propagation;
  /** Every optional field as written, including ones this parser does not know. */
  optional: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Undoes the kernel's octal escapes of space, tab, newline and backslash (`\040`). */
export function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function count(text: string, what: string, line: number): number {
  if (!/^\d+$/.test(text)) {
    throw new RangeError(
      `parse mountinfo line ${line}: ${what} ${JSON.stringify(text)} is not a number`,
    );
  }
  return Number(text);
}

function parsePropagation(fields: readonly string[], line: number): Propagation {
  const p: Propagation = { unbindable: false };
  for (const f of fields) {
    const [tag, value] = f.split(":", 2);
    if (tag === "unbindable" && value === undefined) p.unbindable = true;
    else if (tag === "shared" && value !== undefined) p.shared = count(value, "peer group", line);
    else if (tag === "master" && value !== undefined) p.master = count(value, "peer group", line);
    else if (tag === "propagate_from" && value !== undefined) {
      p.propagateFrom = count(value, "peer group", line);
    }
  }
  return p;
}

/** Parses one line (1-based `line` for messages). */
export function parseMountinfoLine(text: string, line = 1): MountInfo {
  const fields = text.split(" ");
  const dash = fields.indexOf("-", 6);
  if (fields.length < 10 || dash < 0 || fields.length < dash + 4) {
    throw new RangeError(`parse mountinfo line ${line}: want at least 10 fields and a "-"`);
  }
  const [id, parent, dev, root, mountPoint, options] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const [major, minor] = dev.split(":");
  if (major === undefined || minor === undefined) {
    throw new RangeError(
      `parse mountinfo line ${line}: device ${JSON.stringify(dev)} is not major:minor`,
    );
  }
  const optional = fields.slice(6, dash);
  return {
    id: count(id, "mount id", line),
    parent: count(parent, "parent id", line),
    major: count(major, "major", line),
    minor: count(minor, "minor", line),
    root: unescapeField(root),
    mountPoint: unescapeField(mountPoint),
    options: options.split(","),
    propagation: parsePropagation(optional, line),
    optional,
    fsType: unescapeField(fields[dash + 1] as string),
    source: unescapeField(fields[dash + 2] as string),
    superOptions: fields
      .slice(dash + 3)
      .join(" ")
      .split(","),
  };
}

/** Parses a whole mountinfo file; blank lines are skipped. */
export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  text.split("\n").forEach((l, i) => {
    if (l !== "") out.push(parseMountinfoLine(l, i + 1));
  });
  return out;
}

/** The mount table of a process (or of hood itself with "self"). */
export function readMountinfo(pid: number | "self" = "self"): MountInfo[] {
  const path = `/proc/${pid}/mountinfo`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw syscallError(`read ${path}`, e);
  }
  return parseMountinfo(text);
}

/** The propagation type as findmnt prints it: shared, slave, "shared,slave", private, unbindable. */
export function propagationType(p: Propagation): string {
  if (p.unbindable) return "unbindable";
  if (p.shared !== undefined && p.master !== undefined) return "shared,slave";
  if (p.shared !== undefined) return "shared";
  if (p.master !== undefined) return "slave";
  return "private";
}

/** The optional fields again, in the kernel's order: "shared:1 master:2", or "private". */
export function formatPropagation(p: Propagation): string {
  const parts: string[] = [];
  if (p.shared !== undefined) parts.push(`shared:${p.shared}`);
  if (p.master !== undefined) parts.push(`master:${p.master}`);
  if (p.propagateFrom !== undefined) parts.push(`propagate_from:${p.propagateFrom}`);
  if (p.unbindable) parts.push("unbindable");
  return parts.length > 0 ? parts.join(" ") : "private";
}

export interface MountNode extends MountInfo {
  children: MountNode[];
}

/**
 * The mounts as a forest: each mount under its parent, in the file's order (mount order).
 * A mount whose parent is not in the table (the namespace's root, or an old root left over)
 * is a root of the forest.
 */
export function mountTree(mounts: readonly MountInfo[]): MountNode[] {
  const byId = new Map<number, MountNode>();
  for (const m of mounts) byId.set(m.id, { ...m, children: [] });
  const roots: MountNode[] = [];
  for (const node of byId.values()) {
    const parent = node.parent !== node.id ? byId.get(node.parent) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}
