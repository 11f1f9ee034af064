/** The global options every verb sees (runc's: --root, --log, --log-format, --debug). */
import type { RuntimeContext } from "../runtime/container.ts";
import { DEFAULT_ROOT } from "../runtime/state.ts";
import { log } from "./log.ts";

export const globals = { root: DEFAULT_ROOT };

export function runtimeContext(): RuntimeContext {
  return { root: globals.root, warn: log.warn };
}
