import { type CreateOptions, create } from "../runtime/container.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

/** runc's create flags; run takes them too. */
export const CREATE_FLAGS = {
  bundle: { type: "string", short: "b", default: "." },
  "pid-file": { type: "string" },
  "console-socket": { type: "string" },
  "no-pivot": { type: "boolean", default: false },
  "no-new-keyring": { type: "boolean", default: false },
  "preserve-fds": { type: "string", default: "0" },
} as const;

/** The create options those flags say. */
export function createOptions(id: string, values: Record<string, unknown>): CreateOptions {
  return {
    id,
    bundle: values.bundle as string,
    pidFile: values["pid-file"] as string | undefined,
    consoleSocket: values["console-socket"] as string | undefined,
    noPivot: values["no-pivot"] as boolean,
    preserveFds: Number(values["preserve-fds"]),
  };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, CREATE_FLAGS, "create");
  const id = oneId(positionals, "create");
  return within(`create ${id}`, async () => {
    const { launch } = await create(runtimeContext(), createOptions(id, values));
    launch.detach();
    return 0;
  });
}
