/** A container id (or a pid) -> the pid of the container's live init, through the state store. */
import { HoodError } from "../errors.ts";
import { currentStatus, mustRead } from "../runtime/state.ts";
import { globals } from "./context.ts";

export function containerPid(idOrPid: string, root = globals.root): number {
  if (/^\d+$/.test(idOrPid)) return Number(idOrPid);
  const record = mustRead(root, idOrPid);
  if (currentStatus(root, record) === "stopped") {
    throw new HoodError(`container ${idOrPid} is not running`, "ESRCH");
  }
  return record.pid;
}
