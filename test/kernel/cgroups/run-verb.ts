/**
 * Runs one of the cgroup verbs from the sources, for as long as the bundled `hood` does not
 * dispatch it yet: `node --import tsx run-verb.ts --root DIR VERB ARGS...`.
 */
import { globals } from "../../../src/cli/context.ts";

const [flag, root, verb, ...rest] = process.argv.slice(2);
if (flag !== "--root" || !root || !verb)
  throw new Error("usage: run-verb.ts --root DIR VERB ARGS...");
globals.root = root;
const mod = (await import(`../../../src/cli/${verb}.ts`)) as { main(a: string[]): Promise<number> };
const code = await mod.main(rest).catch((e: Error) => {
  process.stderr.write(`hood: ${e.message}\n`);
  return 1;
});
process.exit(code);
