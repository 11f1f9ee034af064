import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeBusyboxBundle } from "../engine/busybox.ts";
import { addon } from "../native/addon.ts";
import { create, destroy, startCreated } from "../runtime/container.ts";
import { parse } from "./args.ts";
import { runtimeContext } from "./context.ts";
import { out } from "./output.ts";

/** The script the demo container runs: evidence of its isolation. */
const SCRIPT = [
  'echo "pid inside the container: $$"',
  'echo "hostname: $(hostname)"',
  'echo "processes visible:"; ps -o pid,user,args',
  'echo "mount table:"; cat /proc/self/mounts',
].join("; ");

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(argv, { keep: { type: "boolean", default: false } }, "demo");
  const dir = mkdtempSync(join(tmpdir(), "hood-demo-"));
  const id = `hood-demo-${process.pid}`;
  const ctx = runtimeContext();
  try {
    makeBusyboxBundle(dir, { args: ["sh", "-c", SCRIPT], hostname: "hood-demo" });
    out(`hood: running a busybox container from ${dir} as ${id}\n`);
    const { record, spec, launch } = await create(ctx, { id, bundle: dir });
    await startCreated(ctx, record, spec, launch);
    launch.detach();
    const st = await addon().pidfdWait(launch.processPidfd);
    await destroy(ctx, record);
    return st.signal !== null ? 128 + st.signal : (st.code ?? 1);
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}
