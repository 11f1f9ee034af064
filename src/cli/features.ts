import { features } from "../runtime/features.ts";
import { parse } from "./args.ts";
import { out } from "./output.ts";

export async function main(argv: string[]): Promise<number> {
  parse(argv, {}, "features");
  // runc indents with four spaces.
  out(`${JSON.stringify(features(), null, 4)}\n`);
  return 0;
}
