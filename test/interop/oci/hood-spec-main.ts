/** `hood spec` as a process, until the CLI wires the verb: node --import tsx hood-spec-main.ts ARGS. */

import { err } from "../../../src/cli/output.ts";
import { main } from "../../../src/cli/spec.ts";

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  err(`hood: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
