import { resume } from "../runtime/pause.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

export async function main(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, "resume");
  const id = oneId(positionals, "resume");
  return within(`resume ${id}`, async () => {
    await resume(runtimeContext(), id);
    return 0;
  });
}
