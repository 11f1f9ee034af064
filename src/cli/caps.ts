/**
 * `hood caps`: capabilities made visible, like capsh and getpcaps but one line per set.
 *
 *   hood caps decode MASK...      the names in each mask, printed as `capsh --decode` does
 *   hood caps encode NAME[,NAME]  the mask of the names (cap_x, CAP_X or a number)
 *   hood caps pid PID             the five sets, no_new_privs, seccomp and securebits of a process
 *   hood caps container ID        the same for a container's init process
 *
 * `--json` prints JSON instead (one object per line for `decode`).
 */

import { parseArgs } from "node:util";
import { HoodError } from "../errors.ts";
import {
  type CapSets,
  capNumbers,
  decodeCaps,
  decodeSecurebits,
  displayName,
  encodeCaps,
  formatMask,
  fullMask,
  lastCap,
  parseMask,
  readProcessCaps,
} from "../linux/capabilities.ts";
import { containerPid } from "./container-pid.ts";
import { globals } from "./context.ts";
import { err, out } from "./output.ts";

const USAGE = `usage: hood caps decode MASK...
       hood caps encode NAME[,NAME...]...
       hood caps pid PID
       hood caps container ID

  decode     print the capability names in each hex mask (as capsh --decode)
  encode     print the mask of capability names (cap_chown, CAP_CHOWN or a number)
  pid        print the capability sets, no_new_privs, seccomp and securebits of a process
  container  the same for the init process of a container

options:
  --json         print JSON
  --root DIR     where container state lives (default /run/hood)
  -h, --help     print this help
`;

/** Finds the pid of a container's init process. */
export type ContainerPidLookup = (id: string, root: string) => Promise<number>;

export interface CapsDeps {
  lookupContainerPid: ContainerPidLookup;
  /** The running kernel's last capability; injectable for tests. */
  lastCap: () => number;
}

/**
 * Reads `<root>/<id>/state.json` (the OCI state plus hood's fields) and returns its `pid`.
 * The runtime's state store may replace this through `main`'s `deps`.
 */
/** The init pid of a container in the state store (pid and start time checked). */
export async function readStatePid(id: string, root: string): Promise<number> {
  return containerPid(id, root);
}

const defaultDeps: CapsDeps = { lookupContainerPid: readStatePid, lastCap: () => lastCap() };

/** One capability set in a report: the mask and its names (capsh spelling). */
export interface SetReport {
  mask: string;
  names: string[];
}

/** What `hood caps pid` prints with --json. */
export interface CapsReport {
  pid: number;
  name: string | null;
  uids: { real: number; effective: number; saved: number; filesystem: number } | null;
  lastCap: number;
  effective: SetReport;
  permitted: SetReport;
  inheritable: SetReport;
  bounding: SetReport;
  ambient: SetReport;
  noNewPrivs: boolean;
  seccomp: { mode: string | null; filters: number | null };
  securebits: { value: number | null; names: string[]; note?: string };
}

const SET_ORDER: readonly (keyof CapSets)[] = [
  "effective",
  "permitted",
  "inheritable",
  "bounding",
  "ambient",
];

function setReport(mask: bigint): SetReport {
  return { mask: formatMask(mask), names: decodeCaps(mask) };
}

/** The capability state of a process as a JSON-friendly report. */
export function capsForPid(pid: number, last: number = lastCap()): CapsReport {
  const caps = readProcessCaps(pid);
  const report: CapsReport = {
    pid,
    name: caps.name,
    uids: caps.uids && {
      real: caps.uids[0],
      effective: caps.uids[1],
      saved: caps.uids[2],
      filesystem: caps.uids[3],
    },
    lastCap: last,
    effective: setReport(caps.effective),
    permitted: setReport(caps.permitted),
    inheritable: setReport(caps.inheritable),
    bounding: setReport(caps.bounding),
    ambient: setReport(caps.ambient),
    noNewPrivs: caps.noNewPrivs,
    seccomp: { mode: caps.seccomp, filters: caps.seccompFilters },
    securebits: {
      value: caps.securebits,
      names: caps.securebits === null ? [] : decodeSecurebits(caps.securebits),
    },
  };
  if (caps.securebitsNote !== undefined) report.securebits.note = caps.securebitsNote;
  return report;
}

/**
 * A set in words. A full set reads `(all 41)` and a set missing a few caps reads
 * `all except cap_sys_resource`: 41 names on one line hide the one that matters, and capsh's
 * `=ep cap_sys_resource-ep` is exact but has to be decoded. Otherwise the names are listed.
 */
export function describeSet(mask: bigint, last: number): string {
  if (mask === 0n) return "(none)";
  const all = fullMask(last);
  const total = last + 1;
  const beyond = capNumbers(mask & ~all).map(displayName);
  const within = mask & all;
  const extra = beyond.length > 0 ? ` plus unknown ${beyond.join(",")}` : "";
  if (within === all) return `(all ${total})${extra}`;
  const missing = capNumbers(all & ~within);
  if (missing.length <= 8 && missing.length * 2 < total) {
    return `all except ${missing.map(displayName).join(",")} (${total - missing.length} of ${total})${extra}`;
  }
  return decodeCaps(mask).join(",");
}

/** The human form of a report: one line per set, then the other privilege switches. */
export function renderReport(report: CapsReport, title: string): string {
  const lines = [title];
  for (const set of SET_ORDER) {
    const r = report[set];
    lines.push(
      `  ${`${set}:`.padEnd(14)}${r.mask}  ${describeSet(BigInt(r.mask), report.lastCap)}`,
    );
  }
  lines.push(`  ${"no_new_privs:".padEnd(14)}${report.noNewPrivs ? "yes" : "no"}`);
  const { mode, filters } = report.seccomp;
  const seccomp =
    mode === null
      ? "unknown (the kernel has no seccomp)"
      : mode === "filter" && filters !== null
        ? `filter (${filters} ${filters === 1 ? "filter" : "filters"})`
        : mode;
  lines.push(`  ${"seccomp:".padEnd(14)}${seccomp}`);
  const sb = report.securebits;
  const securebits =
    sb.value === null
      ? `unknown: ${sb.note ?? "not readable"}`
      : `0x${sb.value.toString(16)}${sb.names.length > 0 ? ` ${sb.names.join(",")}` : ""}`;
  lines.push(`  ${"securebits:".padEnd(14)}${securebits}`);
  return `${lines.join("\n")}\n`;
}

function processTitle(report: CapsReport): string {
  const name = report.name === null ? "" : ` (${report.name})`;
  const uid = report.uids === null ? "" : `, uid ${report.uids.real}`;
  return `pid ${report.pid}${name}${uid}`;
}

class UsageError extends Error {}

function parsePid(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`not a process id: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

export async function main(argv: string[], deps: CapsDeps = defaultDeps): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    err(`hood: caps: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  const [command, ...args] = positionals;
  try {
    switch (command) {
      case "decode":
        return decode(args, values.json);
      case "encode":
        return encode(args, values.json);
      case "pid": {
        if (args.length !== 1) throw new UsageError("pid takes one process id");
        const report = capsForPid(parsePid(args[0]!), deps.lastCap());
        out(values.json ? toJson(report) : renderReport(report, processTitle(report)));
        return 0;
      }
      case "container": {
        if (args.length !== 1) throw new UsageError("container takes one container id");
        const id = args[0]!;
        const pid = await deps.lookupContainerPid(id, values.root ?? globals.root);
        const report = capsForPid(pid, deps.lastCap());
        if (values.json) {
          out(toJson({ container: id, ...report }));
        } else {
          out(renderReport(report, `container ${id}, init ${processTitle(report)}`));
        }
        return 0;
      }
      case undefined:
        throw new UsageError("missing command");
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`hood: caps: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof HoodError) {
      err(`hood: caps: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      root: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

function decode(args: string[], json: boolean): number {
  if (args.length === 0) throw new UsageError("decode takes at least one mask");
  const masks = args.map(parseMask);
  let text = "";
  for (const mask of masks) {
    const names = decodeCaps(mask);
    text += json
      ? toJson({ mask: formatMask(mask), names })
      : `${formatMask(mask)}=${names.join(",")}\n`;
  }
  out(text);
  return 0;
}

function encode(args: string[], json: boolean): number {
  const items = args.flatMap((a) => a.split(",")).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError("encode takes at least one capability name");
  const mask = encodeCaps(items);
  out(json ? toJson({ mask: formatMask(mask), names: decodeCaps(mask) }) : `${formatMask(mask)}\n`);
  return 0;
}
