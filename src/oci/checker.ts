/**
 * The small toolkit `validate.ts` is written with: typed reads of untrusted JSON that record
 * a problem (with its JSON path) instead of throwing, so that every problem of a config is
 * found in one pass.
 */
import { INTEGER_RANGES, type IntegerKind } from "./numbers.ts";

/** One thing wrong with a config, at a JSON path such as `linux.namespaces[2].type`. */
export interface Problem {
  path: string;
  message: string;
}

export type Json = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The path of a member: `a.b`, `a[3]`, or `a["net.ipv4.ip_forward"]` for keys that need quoting. */
export function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (IDENTIFIER.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Quotes a value for a message, shortened so that a hostile config cannot flood the output. */
export function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

/** Deeper than any member the runtime-spec defines; below it, values are kept as they are. */
const MAX_DEPTH = 32;

/**
 * A copy of parsed JSON without the object members whose value is null: Go's decoder, and so
 * runc, reads a null member as an absent one. Keys such as "__proto__" stay plain data. Stops
 * at MAX_DEPTH, so a hostile, deeply nested document cannot exhaust the stack.
 */
export function withoutNulls(v: unknown, depth = 0): unknown {
  if (depth >= MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((item) => withoutNulls(item, depth + 1));
  if (isObject(v)) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, value]) => value !== null)
        .map(([key, value]) => [key, withoutNulls(value, depth + 1)]),
    );
  }
  return v;
}

/** Collects problems and warnings; each read returns the value when it has the right type. */
export class Checker {
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];
  /** Problems of type or presence: after one, later code must not trust the shape. */
  shapeProblems = 0;

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push(path === "" ? message : `${path}: ${message}`);
  }

  private shape(path: string, message: string): undefined {
    this.shapeProblems++;
    this.problem(path, message);
    return undefined;
  }

  private missing(path: string, required: boolean): undefined {
    if (required) this.shape(path, "is required");
    return undefined;
  }

  /** An object; members not in `known` are reported as warnings (they are ignored). */
  object(path: string, v: unknown, required: boolean, known?: readonly string[]): Json | undefined {
    if (v === undefined) return this.missing(path, required);
    if (!isObject(v)) return this.shape(path, `must be an object, got ${kindOf(v)}`);
    if (known) {
      for (const key of Object.keys(v)) {
        if (!known.includes(key)) this.warn(at(path, key), "unknown field, ignored");
      }
    }
    return v;
  }

  string(path: string, v: unknown, required = false): string | undefined {
    if (v === undefined) return this.missing(path, required);
    if (typeof v !== "string") return this.shape(path, `must be a string, got ${kindOf(v)}`);
    return v;
  }

  boolean(path: string, v: unknown, required = false): boolean | undefined {
    if (v === undefined) return this.missing(path, required);
    if (typeof v !== "boolean") return this.shape(path, `must be a boolean, got ${kindOf(v)}`);
    return v;
  }

  integer(path: string, v: unknown, kind: IntegerKind, required = false): number | undefined {
    if (v === undefined) return this.missing(path, required);
    if (typeof v !== "number") return this.shape(path, `must be an integer, got ${kindOf(v)}`);
    const [min, max] = INTEGER_RANGES[kind];
    if (!Number.isInteger(v) || v < min || v > max) {
      return this.shape(path, `must be a ${kind} integer, got ${show(v)}`);
    }
    return v;
  }

  /** An integer within [min, max] (on top of its kind's range). */
  ranged(
    path: string,
    v: unknown,
    kind: IntegerKind,
    min: number,
    max: number,
    required = false,
  ): number | undefined {
    const n = this.integer(path, v, kind, required);
    if (n === undefined) return undefined;
    if (n < min || n > max) {
      this.problem(path, `must be from ${min} to ${max}, got ${n}`);
      return undefined;
    }
    return n;
  }

  oneOf<T extends string>(
    path: string,
    v: unknown,
    values: readonly T[],
    required = false,
  ): T | undefined {
    const s = this.string(path, v, required);
    if (s === undefined) return undefined;
    if (!(values as readonly string[]).includes(s)) {
      this.problem(path, `must be one of ${values.map(show).join(", ")}, got ${show(s)}`);
      return undefined;
    }
    return s as T;
  }

  /** An array; `each` checks every element with its own path. */
  array(
    path: string,
    v: unknown,
    each: (path: string, item: unknown, index: number) => void,
    required = false,
  ): unknown[] | undefined {
    if (v === undefined) return this.missing(path, required);
    if (!Array.isArray(v)) return this.shape(path, `must be an array, got ${kindOf(v)}`);
    for (const [i, item] of v.entries()) each(at(path, i), item, i);
    return v;
  }

  stringArray(path: string, v: unknown, required = false): string[] | undefined {
    let ok = true;
    const arr = this.array(
      path,
      v,
      (p, item) => {
        if (this.string(p, item, true) === undefined) ok = false;
      },
      required,
    );
    return arr && ok ? (arr as string[]) : undefined;
  }

  /** An object used as a map; `each` checks every member with its own path. */
  map(
    path: string,
    v: unknown,
    each: (path: string, key: string, value: unknown) => void,
  ): Json | undefined {
    const obj = this.object(path, v, false);
    if (obj) for (const [key, value] of Object.entries(obj)) each(at(path, key), key, value);
    return obj;
  }

  stringMap(path: string, v: unknown): Record<string, string> | undefined {
    let ok = true;
    const obj = this.map(path, v, (p, _key, value) => {
      if (this.string(p, value, true) === undefined) ok = false;
    });
    return obj && ok ? (obj as Record<string, string>) : undefined;
  }
}
