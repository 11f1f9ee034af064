/**
 * Argument parsing shared by the verbs, with runc's error wording. It does what node:util
 * parseArgs does in strict mode (`test/unit/cli/args.test.ts` compares the two), without
 * loading it: parseArgs is a cold module of its own, ~0.8 ms of every runtime command's start.
 */
import type { ParseArgsConfig, parseArgs } from "node:util";
import { HoodError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; strict: true }>
>["values"];

/**
 * Parses a verb's options. As in runc (urfave/cli), options end at the first positional word
 * or at `--`: in `exec ID sh -c x`, the `-c` belongs to sh.
 */
export function parse<O extends Options>(
  argv: string[],
  options: O,
  verb: string,
): { values: Values<O>; positionals: string[] } {
  const { values, rest } = parseOptions(argv, options, (message) => {
    throw new HoodError(`${verb}: ${message}`, "USAGE");
  });
  return { values: values as Values<O>, positionals: argv.slice(rest) };
}

/**
 * The leading options of argv to values, in one pass: `--name`, `--name=value`, `--name value`,
 * `-n`, `-nvalue`, `-n value` and groups of short booleans (`-dt`); `multiple` options collect
 * an array; defaults fill what was not given. They end at the first positional word (or `-`),
 * or after `--`; `rest` is where the positionals start. `fail` gets parseArgs's message.
 */
export function parseOptions(
  argv: readonly string[],
  options: Options,
  fail: (message: string) => never,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; rest: number } {
  const values: Record<string, string | boolean | (string | boolean)[] | undefined> =
    Object.create(null);
  const byShort = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) if (o.short) byShort.set(o.short, name);
  const store = (name: string, value: string | boolean) => {
    if (options[name]?.multiple) {
      const list = values[name];
      values[name] = Array.isArray(list) ? [...list, value] : [value];
    } else values[name] = value;
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      i++;
      break;
    }
    if (!word.startsWith("-") || word === "-") break;
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const o = Object.hasOwn(options, name) ? options[name] : undefined;
      if (!o) fail(unknown(eq < 0 ? word : word.slice(0, eq)));
      if (o.type === "boolean") {
        if (eq >= 0) fail(`Option '${label(name, o.short)}' does not take an argument`);
        store(name, true);
      } else if (eq >= 0) store(name, word.slice(eq + 1));
      else {
        store(name, valueAfter(argv, i, name, o.short, `--${name}`, fail));
        i++;
      }
      continue;
    }
    for (let j = 1; j < word.length; j++) {
      const short = word[j]!;
      const name = byShort.get(short);
      if (name === undefined) fail(unknown(`-${short}`));
      const o = options[name]!;
      if (o.type === "boolean") {
        store(name, true);
        continue;
      }
      if (j + 1 < word.length) store(name, word.slice(j + 1));
      else {
        store(name, valueAfter(argv, i, name, o.short, `-${short}`, fail));
        i++;
      }
      break;
    }
  }
  for (const [name, o] of Object.entries(options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  return { values, rest: i };
}

function unknown(option: string): string {
  return `Unknown option '${option}'`;
}

function label(name: string, short: string | undefined): string {
  return `${short ? `-${short}, ` : ""}--${name}`;
}

/** The word after words[i] as the value of option `name`, given as `given` (-b or --bundle). */
function valueAfter(
  words: readonly string[],
  i: number,
  name: string,
  short: string | undefined,
  given: string,
  fail: (message: string) => never,
): string {
  const value = words[i + 1];
  if (value === undefined) fail(`Option '${label(name, short)} <value>' argument missing`);
  if (value.startsWith("-") && value !== "-") {
    const forms = given.startsWith("--")
      ? `'--${name}=-XYZ'`
      : `'--${name}=-XYZ' or '-${short}-XYZ'`;
    fail(
      `Option '${given}' argument is ambiguous.\nDid you forget to specify the option argument for '${given}'?\nTo specify an option argument starting with a dash use ${forms}.`,
    );
  }
  return value;
}

/** The single container id a verb takes. */
export function oneId(positionals: string[], verb: string): string {
  const id = positionals[0];
  if (id === undefined || id === "") {
    throw new HoodError(`${verb}: "${verb}" requires a container id`, "USAGE");
  }
  return id;
}

/** Re-throws e with "verb id: " before its message, keeping its code. */
export function within<T>(what: string, fn: () => Promise<T>): Promise<T> {
  return fn().catch((e: unknown) => {
    if (e instanceof HoodError) throw new HoodError(`${what}: ${e.message}`, e.code, { cause: e });
    throw e;
  });
}
