/** Argument parsing shared by the verbs: node:util parseArgs with runc's error wording. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { HoodError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a verb's options. As in runc (urfave/cli), options end at the first positional word
 * or at `--`: in `exec ID sh -c x`, the `-c` belongs to sh.
 */
export function parse<O extends Options>(argv: string[], options: O, verb: string) {
  const head = optionWords(argv, options);
  try {
    const parsed = parseArgs({ args: head, options, allowPositionals: false, strict: true });
    const rest = argv.slice(head.length);
    return { values: parsed.values, positionals: rest[0] === "--" ? rest.slice(1) : rest };
  } catch (e) {
    throw new HoodError(`${verb}: ${(e as Error).message}`, "USAGE");
  }
}

/** The leading words of argv that are options or their values. */
function optionWords(argv: string[], options: Options): string[] {
  const takesValue = (word: string): boolean => {
    if (word.startsWith("--")) return options[word.slice(2)]?.type === "string";
    const short = word.slice(-1);
    return Object.values(options).some((o) => o.short === short && o.type === "string");
  };
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === "--" || !word.startsWith("-") || word === "-") break;
    i += !word.includes("=") && takesValue(word) ? 2 : 1;
  }
  return argv.slice(0, i);
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
