/**
 * `pause` and `resume`: freeze and thaw every process of a container through its cgroup
 * (freezer.state on v1, cgroup.freeze on v2). The record says "paused" while it is frozen.
 */
import { HoodError } from "../errors.ts";
import type { RuntimeContext } from "./container.ts";
import { freeze, thaw } from "./resources.ts";
import { currentStatus, mustRead, withLock, writeRecord } from "./state.ts";

export async function pause(ctx: RuntimeContext, id: string): Promise<void> {
  const record = mustRead(ctx.root, id);
  await withLock(ctx.root, id, async () => {
    if (currentStatus(ctx.root, record) !== "running") {
      throw new HoodError("container not running", "ESRCH");
    }
    await freeze(record.cgroupPaths);
    writeRecord(ctx.root, { ...record, status: "paused" });
  });
}

export async function resume(ctx: RuntimeContext, id: string): Promise<void> {
  const record = mustRead(ctx.root, id);
  await withLock(ctx.root, id, async () => {
    if (currentStatus(ctx.root, record) !== "paused") {
      throw new HoodError("container not paused", "EINVAL");
    }
    await thaw(record.cgroupPaths);
    writeRecord(ctx.root, { ...record, status: "running" });
  });
}
