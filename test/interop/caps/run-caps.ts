// Runs `hood caps` in a child process, for tests that compare its output with capsh's.
import { main } from "../../../src/cli/caps.ts";

process.exitCode = await main(process.argv.slice(2));
