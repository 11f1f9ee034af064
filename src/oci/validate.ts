/**
 * Validation of an untrusted `config.json` before anything is created: every problem is
 * reported at once with its JSON path. The rules are runtime-spec 1.0 to 1.3 (types, required
 * fields, enums) plus runc's checks (libcontainer/configs/validate, specconv, and the process
 * checks of `runc create`), with runc's wording where it has one. Pure: anything that depends on
 * the host (the kernel's capability list) is a parameter.
 */
import { Checker, type Json, type Problem, show, withoutNulls } from "./checker.ts";
import { CAPABILITY_NAMES } from "./names.ts";
import type { Process, Spec } from "./runtime-spec.ts";
import type { Context } from "./validate-common.ts";
import { checkLinux, collectNamespaces, LINUX_KEYS } from "./validate-linux.ts";
import { checkHooks, checkMount } from "./validate-mounts.ts";
import { checkProcess, PROCESS_KEYS } from "./validate-process.ts";
import { OCI_VERSION_MAX, parseSemVer } from "./version.ts";

export type { Problem } from "./checker.ts";
export { sysctlDotted, sysctlPath } from "./sysctl.ts";

export interface ValidateOptions {
  /** Capability names the kernel knows; others are warned about (default: CAPABILITY_NAMES). */
  knownCapabilities?: Iterable<string>;
  /**
   * More rules from the caller, run on the spec once its shape is sound (no type or
   * required-field problem), so they may trust the types.
   */
  extraProblems?: (spec: Spec) => Problem[];
}

export interface Validation {
  /** The config with null members removed (Go reads null as absent); typed only if no problems. */
  spec: Spec;
  problems: Problem[];
  warnings: string[];
}

/**
 * Checks a parsed config.json. Use the returned `spec` only when `problems` is empty.
 *
 * @example
 * const { spec, problems, warnings } = validateSpec(JSON.parse(text));
 * if (problems.length > 0) throw new HoodError(formatProblems(problems), "INVALID_SPEC");
 */
export function validateSpec(json: unknown, opts: ValidateOptions = {}): Validation {
  const c = new Checker();
  const doc = withoutNulls(json);
  const top = c.object("", doc, true, TOP_KEYS);
  if (top) {
    const ctx: Context = {
      c,
      namespaces: new Map(),
      knownCapabilities: new Set(opts.knownCapabilities ?? CAPABILITY_NAMES),
    };
    checkSpec(ctx, top);
    if (c.shapeProblems === 0 && opts.extraProblems) {
      c.problems.push(...opts.extraProblems(top as unknown as Spec));
    }
  }
  return { spec: doc as Spec, problems: c.problems, warnings: c.warnings };
}

/**
 * Checks a parsed process.json (`exec --process`) by the rules of `process` in a config.
 * Paths are relative to the process: `cwd`, `rlimits[0].type`.
 */
export function validateProcess(
  json: unknown,
  opts: Omit<ValidateOptions, "extraProblems"> = {},
): { process: Process; problems: Problem[]; warnings: string[] } {
  const c = new Checker();
  const doc = withoutNulls(json);
  const proc = c.object("process", doc, true, PROCESS_KEYS);
  if (proc) {
    checkProcess(
      {
        c,
        namespaces: new Map(),
        knownCapabilities: new Set(opts.knownCapabilities ?? CAPABILITY_NAMES),
      },
      proc,
    );
  }
  const relative = (path: string) => (path === "process" ? "" : path.replace(/^process\./, ""));
  return {
    process: doc as Process,
    problems: c.problems.map((p) => ({ path: relative(p.path), message: p.message })),
    warnings: c.warnings.map((w) => (w.startsWith("process: ") ? w.slice(9) : relative(w))),
  };
}

/**
 * One message for all problems, for a HoodError:
 * `invalid config.json: process.cwd: must be an absolute path, got "tmp"`, or a count and one
 * indented line per problem when there are several.
 */
export function formatProblems(problems: readonly Problem[]): string {
  const line = (p: Problem) => (p.path === "" ? p.message : `${p.path}: ${p.message}`);
  if (problems.length === 1) return `invalid config.json: ${line(problems[0]!)}`;
  return [
    `invalid config.json: ${problems.length} problems:`,
    ...problems.map((p) => `  ${line(p)}`),
  ].join("\n");
}

const TOP_KEYS = [
  "ociVersion",
  "process",
  "root",
  "hostname",
  "domainname",
  "mounts",
  "hooks",
  "annotations",
  "linux",
  "solaris",
  "windows",
  "vm",
  "zos",
  "freebsd",
];

function checkSpec(ctx: Context, top: Json): void {
  const { c } = ctx;
  checkVersion(c, top.ociVersion);
  const linux = c.object("linux", top.linux, false, LINUX_KEYS);
  if (linux) collectNamespaces(ctx, linux.namespaces);

  const root = c.object("root", top.root, true, ["path", "readonly"]);
  if (root) {
    const p = c.string("root.path", root.path, true);
    if (p === "") c.problem("root.path", "must not be empty");
    c.boolean("root.readonly", root.readonly);
  }

  const proc = c.object("process", top.process, true, PROCESS_KEYS);
  if (proc) checkProcess(ctx, proc);

  for (const field of ["hostname", "domainname"] as const) {
    const name = c.string(field, top[field]);
    if (name === undefined || name === "") continue;
    // sethostname(2) and setdomainname(2) take at most 64 bytes.
    if (Buffer.byteLength(name) > 64) c.problem(field, "must be at most 64 bytes long");
    const uts = ctx.namespaces.get("uts");
    if (!uts) c.problem(field, `unable to set ${field} without a private UTS namespace`);
    else if (uts.path !== undefined) {
      c.warn(field, `sets the ${field} of the joined UTS namespace ${show(uts.path)}`);
    }
  }

  c.array("mounts", top.mounts, (p, m) => checkMount(ctx, p, m));
  checkHooks(c, top.hooks);
  const annotations = c.stringMap("annotations", top.annotations);
  if (annotations && Object.hasOwn(annotations, "")) {
    c.problem("annotations", "keys must not be empty");
  }
  if (linux) checkLinux(ctx, linux);
}

function checkVersion(c: Checker, v: unknown): void {
  const text = c.string("ociVersion", v, true);
  if (text === undefined) return;
  const version = parseSemVer(text);
  if (!version) {
    c.problem("ociVersion", `must be a SemVer 2.0.0 version, got ${show(text)}`);
  } else if (version.major !== 1) {
    c.problem("ociVersion", `must be a 1.x version, got ${show(text)}`);
  } else {
    const max = parseSemVer(OCI_VERSION_MAX)!;
    if (version.minor > max.minor) {
      c.warn(
        "ociVersion",
        `${text} is newer than ${OCI_VERSION_MAX}: fields hood does not know are ignored`,
      );
    }
  }
}
