/**
 * `exec`: a new process inside a running container. It joins every namespace of the
 * container's init (like nsenter), its cgroup, and gets the process's own user, capabilities
 * and the container's seccomp filter. startContainer hooks run the same way.
 */
import { closeSync, openSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";
import { cgroupFromDirs, openV1Joins } from "../linux/cgroups.ts";
import { NAMESPACES, type NamespaceType } from "../linux/namespaces.ts";
import { addon, type ExitStatus, OPEN } from "../native/addon.ts";
import type { Process, Spec } from "../oci/runtime-spec.ts";
import { compileExec, TAG } from "../setup/compile.ts";
import { hookState, type RuntimeContext } from "./container.ts";
import { Launch } from "./launch.ts";
import { capabilityPlan, seccompPlan } from "./plans.ts";
import { type ContainerRecord, currentStatus, mustRead, readSpec } from "./state.ts";

export interface ExecOptions {
  process: Process;
  consoleSocket?: string;
  preserveFds?: number;
  stdio?: [number, number, number];
}

export interface Execed {
  pid: number;
  pidfd: number;
  /** Resolves with the process's exit status. */
  wait(): Promise<ExitStatus>;
}

/** Opens /proc/<init>/ns/<kind> for every namespace the container's spec lists. */
function openNamespaces(record: ContainerRecord, spec: Spec, fds: number[]) {
  const out: Partial<Record<NamespaceType, number>> = {};
  for (const ns of spec.linux?.namespaces ?? []) {
    const type = ns.type as NamespaceType;
    const path = `/proc/${record.pid}/ns/${NAMESPACES[type].proc}`;
    try {
      const fd = openSync(path, "r");
      fds.push(fd);
      out[type] = fd;
    } catch (e) {
      throw syscallError(`open the container's ${type} namespace ${path}`, e);
    }
  }
  return out;
}

/** Starts a process in the running container; resolves once it has exec'd. */
export async function execProcess(
  ctx: RuntimeContext,
  record: ContainerRecord,
  spec: Spec,
  o: ExecOptions,
): Promise<Execed> {
  const status = currentStatus(ctx.root, record);
  if (status === "stopped") throw new HoodError("cannot exec in a stopped container", "STOPPED");
  if (status === "paused") throw new HoodError("cannot exec in a paused container", "PAUSED");
  const a = addon();
  const caps = capabilityPlan(o.process, ctx.warn);
  const seccomp = await seccompPlan(spec, o.process, ctx.warn);
  const fds: number[] = [];
  let launch: Launch | null = null;
  try {
    const nsFds = openNamespaces(record, spec, fds);
    let consoleFd: number | null = null;
    if (o.process.terminal) {
      if (!o.consoleSocket) {
        throw new HoodError(
          "cannot allocate tty if runc will detach without setting console socket",
          "EINVAL",
        );
      }
      consoleFd = a.unixConnect(o.consoleSocket);
      fds.push(consoleFd);
    }
    const unified = cgroupFromDirs(record.cgroupPaths).unified;
    const cgroupFd = unified ? openSync(unified, OPEN.PATH | OPEN.CLOEXEC) : -1;
    if (cgroupFd >= 0) fds.push(cgroupFd);
    const cgroupJoins = openV1Joins(record.cgroupPaths, unified);
    for (const j of cgroupJoins) fds.push(j.fd);
    const program = compileExec({
      spec,
      process: o.process,
      nsFds,
      consoleSocketFd: consoleFd,
      preserveFds: o.preserveFds ?? 0,
      capabilities: caps,
      seccomp,
      cgroupJoins,
    });
    launch = Launch.start({
      program,
      stdio: o.stdio ?? [0, 1, 2],
      cgroupFd,
      onFd: (_tag, fd) => closeSync(fd),
    });
    for (const fd of fds.splice(0)) closeSync(fd);
    await launch.run(TAG.READY);
    await launch.run(null);
    const l = launch;
    return { pid: l.processPid, pidfd: l.processPidfd, wait: () => a.pidfdWait(l.processPidfd) };
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    if (launch) {
      launch.kill();
      await a.pidfdWait(launch.processPidfd).catch(() => undefined);
    }
    throw e;
  }
}

/** runc's startContainer hooks: run inside the container's namespaces before the user process. */
export async function runStartContainerHooks(
  ctx: RuntimeContext,
  record: ContainerRecord,
  spec: Spec,
): Promise<void> {
  const hooks = spec.hooks?.startContainer ?? [];
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i]!;
    // The hook path is the executable itself, never looked up in PATH.
    const process: Process = {
      args: [hook.path, ...(hook.args ?? [hook.path]).slice(1)],
      env: hook.env ?? [],
      cwd: "/",
      user: { uid: 0, gid: 0 },
    };
    // The state JSON goes to the hook's stdin through a socketpair (Node has no raw pipe()).
    const [writer, reader] = addon().socketpair(1);
    const state = hookState(record, "created", record.pid);
    let p: Execed;
    try {
      addon().sendMsg(writer, Buffer.from(JSON.stringify(state)), []);
      closeSync(writer);
      p = await execProcess(ctx, record, spec, { process, stdio: [reader, 2, 2] });
    } finally {
      closeSync(reader);
    }
    const timer =
      hook.timeout !== undefined
        ? setTimeout(() => addon().pidfdSendSignal(p.pidfd, 9), hook.timeout * 1000)
        : undefined;
    const st = await p.wait();
    clearTimeout(timer);
    if (st.code !== 0) {
      throw new HoodError(
        `run startContainer hook ${i} (${hook.path}): ${st.signal !== null ? `killed by signal ${st.signal}` : `exit status ${st.code}`}`,
        "HOOK_FAILED",
      );
    }
  }
}

export function lookup(ctx: RuntimeContext, id: string): { record: ContainerRecord; spec: Spec } {
  const record = mustRead(ctx.root, id);
  return { record, spec: readSpec(ctx.root, id) };
}
