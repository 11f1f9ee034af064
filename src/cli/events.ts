import { HoodError } from "../errors.ts";
import { statsEvent, watchEvents } from "../runtime/events.ts";
import { mustRead } from "../runtime/state.ts";
import { oneId, parse, within } from "./args.ts";
import { globals, runtimeContext } from "./context.ts";
import { out } from "./output.ts";

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration ("5s", "100ms", "1m30s") in milliseconds, as runc's --interval takes it. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length) {
    throw new HoodError(`events: invalid duration ${JSON.stringify(text)}`, "USAGE");
  }
  return total;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      interval: { type: "string", default: "5s" },
      stats: { type: "boolean", default: false },
    },
    "events",
  );
  const id = oneId(positionals, "events");
  const interval = parseDuration(values.interval as string);
  if (interval <= 0)
    throw new HoodError("events: duration interval must be greater than 0", "USAGE");
  return within(`events ${id}`, async () => {
    if (values.stats) {
      out(statsEvent(id, mustRead(globals.root, id).cgroupPaths));
      return 0;
    }
    await watchEvents(runtimeContext(), id, { interval, emit: out });
    return 0;
  });
}
