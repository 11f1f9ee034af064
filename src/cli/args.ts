/** Argument parsing shared by the verbs: node:util parseArgs with runc's error wording. */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { HoodError } from "../errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<O extends Options>(argv: string[], options: O, verb: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new HoodError(`${verb}: ${(e as Error).message}`, "USAGE");
  }
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
