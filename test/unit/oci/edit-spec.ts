/**
 * Test helper: a valid config (runc's default) edited at JSON paths written the way
 * validateSpec reports them, so a test reads `{ "linux.namespaces[1].path": "rel" }`.
 */
import assert from "node:assert/strict";
import { defaultSpec } from "../../../src/oci/defaults.ts";
import {
  type Problem,
  type ValidateOptions,
  type Validation,
  validateSpec,
} from "../../../src/oci/validate.ts";

type Node = Record<string | number, unknown>;

const TOKEN = /\.?([A-Za-z_$][\w$]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/gy;

function parsePath(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < path.length) {
    const m = TOKEN.exec(path);
    if (!m) throw new Error(`bad test path ${path}`);
    if (m[1] !== undefined) keys.push(m[1]);
    else if (m[2] !== undefined) keys.push(Number(m[2]));
    else keys.push(JSON.parse(`"${m[3]}"`) as string);
  }
  return keys;
}

/** A fresh copy of runc's default config as plain JSON. */
export function baseSpec(): Node {
  return JSON.parse(JSON.stringify(defaultSpec())) as Node;
}

/** Sets (or, with undefined, deletes) each path; missing containers are created. */
export function edit(doc: Node, changes: Record<string, unknown>): Node {
  for (const [path, value] of Object.entries(changes)) {
    const keys = parsePath(path);
    let node = doc;
    for (const [i, key] of keys.slice(0, -1).entries()) {
      if (node[key] === undefined || node[key] === null) {
        node[key] = typeof keys[i + 1] === "number" ? [] : {};
      }
      node = node[key] as Node;
    }
    const last = keys.at(-1)!;
    if (value === undefined) {
      if (Array.isArray(node)) node.splice(last as number, 1);
      else delete node[last];
    } else {
      node[last] = value;
    }
  }
  return doc;
}

/** Validates runc's default config after the changes. */
export function check(changes: Record<string, unknown>, opts?: ValidateOptions): Validation {
  return validateSpec(edit(baseSpec(), changes), opts);
}

function describe(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n") || "(none)";
}

/** Exactly one problem, at `path`, whose message matches. */
export function assertOneProblem(v: Validation, path: string, message: RegExp): void {
  assert.equal(
    v.problems.length,
    1,
    `expected one problem at ${path}, got:\n${describe(v.problems)}`,
  );
  assert.equal(v.problems[0]!.path, path);
  assert.match(v.problems[0]!.message, message);
}

/** A problem at `path` whose message matches, among others. */
export function assertHasProblem(v: Validation, path: string, message: RegExp): void {
  const hit = v.problems.some((p) => p.path === path && message.test(p.message));
  assert.ok(
    hit,
    `expected a problem at ${path} matching ${message}, got:\n${describe(v.problems)}`,
  );
}

export function assertValid(v: Validation): void {
  assert.deepEqual(v.problems, [], describe(v.problems));
}

/** A warning that starts with `path: ` and matches. */
export function assertWarning(v: Validation, path: string, message: RegExp): void {
  const hit = v.warnings.some((w) => w.startsWith(`${path}: `) && message.test(w));
  assert.ok(
    hit,
    `expected a warning at ${path} matching ${message}, got:\n${v.warnings.join("\n")}`,
  );
}
