import { state } from "../runtime/container.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";
import { out } from "./output.ts";

export async function main(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, "state");
  const id = oneId(positionals, "state");
  return within(`state ${id}`, async () => {
    out(`${JSON.stringify(state(runtimeContext(), id), null, 2)}\n`);
    return 0;
  });
}
