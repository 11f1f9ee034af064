import { pause } from "../runtime/pause.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

export async function main(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, "pause");
  const id = oneId(positionals, "pause");
  return within(`pause ${id}`, async () => {
    await pause(runtimeContext(), id);
    return 0;
  });
}
