import { start } from "../runtime/container.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

export async function main(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, "start");
  const id = oneId(positionals, "start");
  return within(`start ${id}`, async () => {
    await start(runtimeContext(), id);
    return 0;
  });
}
