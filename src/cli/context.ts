/** The global options every verb sees (runc's: --root, --log, --log-format, --debug). */
import type { PrimedCgroups } from "../linux/cgroups.ts";
import type { RuntimeContext } from "../runtime/container.ts";
import { DEFAULT_ROOT } from "../runtime/state.ts";
import { log } from "./log.ts";

export const globals: { root: string; primedCgroups?: PrimedCgroups } = { root: DEFAULT_ROOT };

export function runtimeContext(): RuntimeContext {
  const primedCgroups = globals.primedCgroups;
  globals.primedCgroups = undefined;
  return { root: globals.root, warn: log.warn, primedCgroups };
}
