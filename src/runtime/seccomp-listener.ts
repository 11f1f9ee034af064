/**
 * Hands a seccomp user-notification fd to the agent at `linux.seccomp.listenerPath`, with the
 * runtime-spec's ContainerProcessState JSON as the message (what runc sends).
 */
import { closeSync } from "node:fs";
import { syscallError } from "../errors.ts";
import { addon } from "../native/addon.ts";
import type { Spec } from "../oci/runtime-spec.ts";

export async function sendSeccompListener(
  listenerPath: string,
  fd: number,
  state: { pid: number } & Record<string, unknown>,
  spec: Spec,
): Promise<void> {
  const a = addon();
  let sock: number;
  try {
    sock = a.unixConnect(listenerPath);
  } catch (e) {
    throw syscallError(`connect to the seccomp listener ${JSON.stringify(listenerPath)}`, e);
  }
  try {
    const message = {
      ociVersion: state.ociVersion,
      fds: ["seccompFd"],
      pid: state.pid,
      metadata: spec.linux?.seccomp?.listenerMetadata ?? "",
      state,
    };
    a.sendMsg(sock, Buffer.from(JSON.stringify(message)), [fd]);
  } catch (e) {
    throw syscallError(`send the seccomp listener fd to ${JSON.stringify(listenerPath)}`, e);
  } finally {
    closeSync(sock);
  }
}
