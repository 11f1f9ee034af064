/**
 * `update`: changes the resources of a live container. The changes are merged into the
 * resources it was created with (kept in its spec.json), the merged set is written to its
 * cgroups, and the spec is saved so the next update starts from it, as runc does.
 */
import { HoodError } from "../errors.ts";
import { Checker } from "../oci/checker.ts";
import type { LinuxResources } from "../oci/runtime-spec.ts";
import { formatProblems } from "../oci/validate.ts";
import { checkResources } from "../oci/validate-resources.ts";
import type { RuntimeContext } from "./container.ts";
import { mergeResources, updateResources } from "./resources.ts";
import { currentStatus, mustRead, readSpec, withLock, writeSpec } from "./state.ts";

/** Checks resources given to update by the rules of `linux.resources`. */
export function validateResources(json: unknown): LinuxResources {
  const c = new Checker();
  checkResources(c, json);
  if (c.problems.length > 0) {
    throw new HoodError(`invalid resources:\n${formatProblems(c.problems)}`, "INVALID_SPEC");
  }
  return json as LinuxResources;
}

export async function update(
  ctx: RuntimeContext,
  id: string,
  changes: LinuxResources,
): Promise<LinuxResources> {
  const record = mustRead(ctx.root, id);
  return withLock(ctx.root, id, async () => {
    if (currentStatus(ctx.root, record) === "stopped") {
      throw new HoodError("container not running", "ESRCH");
    }
    const spec = readSpec(ctx.root, id);
    const merged = mergeResources(spec.linux?.resources ?? {}, changes);
    updateResources(record.cgroupPaths, merged, changes, { warn: ctx.warn });
    spec.linux = { ...spec.linux, resources: merged };
    writeSpec(ctx.root, id, spec);
    return merged;
  });
}
