import { kill, parseSignal } from "../runtime/container.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { all: { type: "boolean", short: "a", default: false } },
    "kill",
  );
  const id = oneId(positionals, "kill");
  return within(`kill ${id}`, async () => {
    const signal = parseSignal(positionals[1] ?? "SIGTERM");
    await kill(runtimeContext(), id, signal, values.all as boolean);
    return 0;
  });
}
