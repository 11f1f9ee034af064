import { constants } from "node:os";
import { addon } from "../native/addon.ts";
import { create, destroy, startCreated } from "../runtime/container.ts";
import { oomKilled } from "../runtime/resources.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";
import { CREATE_FLAGS, createOptions } from "./create.ts";
import { log } from "./log.ts";

/** Signals run passes on to the container's init, as runc does. */
const FORWARDED = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
] as const;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...CREATE_FLAGS,
      "no-subreaper": { type: "boolean", default: false },
      detach: { type: "boolean", short: "d", default: false },
      keep: { type: "boolean", default: false },
    },
    "run",
  );
  const id = oneId(positionals, "run");
  const ctx = runtimeContext();
  return within(`run ${id}`, async () => {
    const { record, spec, launch } = await create(ctx, createOptions(id, values));
    const a = addon();
    try {
      await startCreated(ctx, record, spec, launch);
    } catch (e) {
      launch.kill();
      await a.pidfdWait(launch.processPidfd).catch(() => undefined);
      await destroy(ctx, record, spec);
      throw e;
    }
    launch.detach();
    if (values.detach) return 0;
    const forward = (name: NodeJS.Signals) => {
      try {
        a.pidfdSendSignal(launch.processPidfd, constants.signals[name]);
      } catch {
        // the container is already gone
      }
    };
    for (const s of FORWARDED) process.on(s, forward);
    const status = await a.pidfdWait(launch.processPidfd);
    for (const s of FORWARDED) process.off(s, forward);
    if (status.signal === constants.signals.SIGKILL && oomKilled(record.cgroupPaths)) {
      log.error(`run ${id}: the container was killed by the OOM killer`);
    }
    if (!values.keep) await destroy(ctx, record, spec);
    return status.signal !== null ? 128 + status.signal : (status.code ?? 255);
  });
}
