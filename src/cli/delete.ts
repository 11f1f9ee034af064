import { remove } from "../runtime/container.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { force: { type: "boolean", short: "f", default: false } },
    "delete",
  );
  const id = oneId(positionals, "delete");
  return within(`delete ${id}`, async () => {
    await remove(runtimeContext(), id, values.force as boolean);
    return 0;
  });
}
