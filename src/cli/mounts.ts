/**
 * `hood mounts PID|CONTAINER [--json]`: the mount table of a process as a tree, with each
 * mount's propagation and where its peer group also appears in hood's own (the host's) mount
 * namespace, so that a person can see why a mount did or did not propagate.
 */
import { parseArgs } from "node:util";
import { HoodError } from "../errors.ts";
import {
  formatPropagation,
  type MountInfo,
  type MountNode,
  mountTree,
  propagationType,
  readMountinfo,
} from "../linux/mountinfo.ts";
import { currentStatus, readRecord } from "../runtime/state.ts";
import { globals } from "./context.ts";
import { err, out } from "./output.ts";

const USAGE = `usage: hood mounts PID|CONTAINER [--json]

Prints the mount table of a process (or of a container's init) as a tree: each mount's
filesystem, its propagation (shared:N, master:N, propagate_from:N, unbindable, private) and
the host mounts in the same peer group, which say where mounts propagate to and from.

options:
  --json       print JSON
  -h, --help   print this help
`;

/** Host mounts that share a peer group with a mount, and what that means for propagation. */
export interface HostRelation {
  /** Host mount points in this mount's own peer group: mounts propagate both ways. */
  peers: string[];
  /** Host mount points in the peer group this mount is a slave of: host -> here only. */
  masters: string[];
  /** One sentence for people. */
  summary: string;
}

export interface MountReport {
  id: number;
  parent: number;
  mountPoint: string;
  root: string;
  fsType: string;
  source: string;
  options: string[];
  propagation: string;
  type: string;
  host: HostRelation;
  children: MountReport[];
}

function groupMembers(host: readonly MountInfo[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const m of host) {
    if (m.propagation.shared === undefined) continue;
    const list = groups.get(m.propagation.shared) ?? [];
    list.push(m.mountPoint);
    groups.set(m.propagation.shared, list);
  }
  return groups;
}

/** How a mount relates to the host's mounts through its peer groups. */
export function hostRelation(m: MountInfo, groups: Map<number, string[]>): HostRelation {
  const p = m.propagation;
  const peers = p.shared !== undefined ? (groups.get(p.shared) ?? []) : [];
  // propagate_from names a dominating group when the master itself is not visible.
  const from = [p.master, p.propagateFrom].filter((g) => g !== undefined);
  const masters = [...new Set(from.flatMap((g) => groups.get(g) ?? []))];
  const parts: string[] = [];
  if (peers.length > 0) parts.push(`both ways with host ${peers.join(", ")}`);
  if (masters.length > 0) parts.push(`receives from host ${masters.join(", ")}`);
  if (parts.length === 0) {
    if (p.unbindable) parts.push("cannot be bind-mounted; nothing propagates");
    else if (p.shared !== undefined || from.length > 0) parts.push("no host mount in its groups");
    else parts.push("nothing propagates");
  }
  return { peers, masters, summary: parts.join("; ") };
}

function report(node: MountNode, groups: Map<number, string[]>): MountReport {
  return {
    id: node.id,
    parent: node.parent,
    mountPoint: node.mountPoint,
    root: node.root,
    fsType: node.fsType,
    source: node.source,
    options: node.options,
    propagation: formatPropagation(node.propagation),
    type: propagationType(node.propagation),
    host: hostRelation(node, groups),
    children: node.children.map((c) => report(c, groups)),
  };
}

/** The reports of a process's mounts against the host's table. */
export function mountReports(
  mounts: readonly MountInfo[],
  host: readonly MountInfo[],
): MountReport[] {
  const groups = groupMembers(host);
  return mountTree(mounts).map((n) => report(n, groups));
}

function describeSource(r: MountReport): string {
  return r.root === "/" ? r.source : `${r.source}[${r.root}]`;
}

/** The text tree: one line per mount, columns after the tree. */
export function formatReports(reports: readonly MountReport[]): string {
  const rows: [string, string, string, string, string][] = [];
  const walk = (r: MountReport, prefix: string, last: boolean, top: boolean) => {
    const branch = top ? "" : last ? "`-- " : "|-- ";
    rows.push([
      `${prefix}${branch}${r.mountPoint}`,
      r.fsType,
      describeSource(r),
      r.propagation,
      r.host.summary,
    ]);
    const next = top ? "" : `${prefix}${last ? "    " : "|   "}`;
    r.children.forEach((c, i) => {
      walk(c, next, i === r.children.length - 1, false);
    });
  };
  for (const r of reports) walk(r, "", true, true);
  const header: [string, string, string, string, string] = [
    "MOUNT POINT",
    "FSTYPE",
    "SOURCE",
    "PROPAGATION",
    "HOST",
  ];
  const all = [header, ...rows];
  const width = [0, 1, 2, 3].map((i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i < 4 ? cell.padEnd(width[i] ?? 0) : cell))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

/** A pid as given, or the init of the container of that id under --root. */
function resolvePid(target: string): number {
  if (/^\d+$/.test(target)) return Number(target);
  const record = readRecord(globals.root, target);
  if (!record) throw new HoodError(`mounts ${target}: container does not exist`, "ENOENT");
  if (currentStatus(globals.root, record) === "stopped") {
    throw new HoodError(`mounts ${target}: container is not running`, "ESRCH");
  }
  return record.pid;
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`hood mounts: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const [target] = positionals;
  if (target === undefined || positionals.length > 1) {
    err(USAGE);
    return 2;
  }
  const pid = resolvePid(target);
  const reports = mountReports(readMountinfo(pid), readMountinfo("self"));
  if (values.json) out(`${JSON.stringify({ pid, mounts: reports }, null, 2)}\n`);
  else out(formatReports(reports));
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
}
