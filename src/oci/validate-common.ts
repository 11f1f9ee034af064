/** What the rule files of `validate.ts` share: the context of one validation and path checks. */
import type { Checker } from "./checker.ts";
import { show } from "./checker.ts";
import type { LinuxNamespaceType } from "./runtime-spec.ts";

export interface NamespaceEntry {
  path?: string;
  index: number;
}

export interface Context {
  c: Checker;
  /** The valid, first entry of each namespace type in `linux.namespaces`. */
  namespaces: Map<LinuxNamespaceType, NamespaceEntry>;
  knownCapabilities: Set<string>;
}

export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

export function absolutePath(
  c: Checker,
  path: string,
  v: unknown,
  required = false,
): string | undefined {
  const s = c.string(path, v, required);
  if (s === undefined) return undefined;
  if (!isAbsolute(s)) {
    c.problem(path, `must be an absolute path, got ${show(s)}`);
    return undefined;
  }
  return s;
}

export function noNul(c: Checker, path: string, s: string | undefined): void {
  if (s?.includes("\0")) c.problem(path, "must not contain a null byte");
}

/** "0-3,7": the list format of cpusets and CPU affinity. */
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

export function cpuList(c: Checker, path: string, v: unknown, allowEmpty: boolean): void {
  const s = c.string(path, v);
  if (s === undefined || (s === "" && allowEmpty)) return;
  const backwards = s.split(",").some((range) => {
    const [lo, hi] = range.split("-").map(Number);
    return hi !== undefined && hi < lo!;
  });
  if (!CPU_LIST.test(s) || backwards) {
    c.problem(path, `must be a CPU list such as "0-3,7", got ${show(s)}`);
  }
}
