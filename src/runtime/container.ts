/**
 * The container lifecycle of the runtime face: create, start, kill, delete. Each verb checks
 * the state it needs, does its work under the container's lock, and on failure leaves nothing
 * behind: no process, no cgroup, no state directory.
 */
import {
  chmodSync,
  closeSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  unlinkSync,
} from "node:fs";
import { constants as osConstants } from "node:os";
import { basename, isAbsolute, join, resolve } from "node:path";
import { HoodError, syscallError } from "../errors.ts";
import {
  type ContainerCgroup,
  cgroupPids,
  createContainerCgroup,
  openV1Joins,
  removeContainerCgroup,
} from "../linux/cgroups.ts";
import type { NamespaceType } from "../linux/namespaces.ts";
import { readStat } from "../linux/proc.ts";
import { addon, OPEN } from "../native/addon.ts";
import type { Spec } from "../oci/runtime-spec.ts";
import { formatProblems, validateSpec } from "../oci/validate.ts";
import { compileInit, type InitProgram, TAG } from "../setup/compile.ts";
import type { CgroupHierarchy } from "../setup/mounts.ts";
import { runHooks } from "./hooks.ts";
import { Launch, writeIdMaps } from "./launch.ts";
import { capabilityPlan, seccompPlan } from "./plans.ts";
import { applyResources, thaw } from "./resources.ts";
import { sendSeccompListener } from "./seccomp-listener.ts";
import {
  type ContainerRecord,
  currentStatus,
  fifoPath,
  mustRead,
  OCI_VERSION,
  ociState,
  readRecord,
  readSpec,
  removeContainerDir,
  reserveId,
  withLock,
  writeAtomic,
  writeRecord,
  writeSpec,
} from "./state.ts";

export interface RuntimeContext {
  root: string;
  /** Where warnings go (the log). */
  warn: (message: string) => void;
}

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** The container's stdio; default hood's own 0, 1, 2. */
  stdio?: [number, number, number];
}

/** Reads and validates config.json; every problem is reported at once, before anything is made. */
export function loadBundle(bundle: string, warn: (m: string) => void): Spec {
  const path = join(bundle, "config.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw syscallError(`read ${JSON.stringify(path)}`, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HoodError(`parse ${JSON.stringify(path)}: ${(e as Error).message}`, "INVALID_SPEC");
  }
  const { spec, problems, warnings } = validateSpec(json);
  for (const w of warnings) warn(w);
  if (problems.length > 0) {
    throw new HoodError(`invalid ${path}:\n${formatProblems(problems)}`, "INVALID_SPEC");
  }
  return spec;
}

/**
 * The container's view of the host's cgroup hierarchies, for a `cgroup` mount: on a pure v2
 * host with a new cgroup namespace a fresh cgroup2 mount; otherwise the container's own
 * directory of each hierarchy bound in, as runc does.
 */
function cgroupMountPlan(cgroup: ContainerCgroup, spec: Spec): CgroupHierarchy[] {
  const newCgroupns = (spec.linux?.namespaces ?? []).some((n) => n.type === "cgroup" && !n.path);
  return cgroup.placed.map(({ hierarchy: h, dir }) => {
    const sub = h.mountpoint.startsWith("/sys/fs/cgroup/")
      ? h.mountpoint.slice("/sys/fs/cgroup/".length)
      : h.mountpoint === "/sys/fs/cgroup"
        ? ""
        : basename(h.mountpoint);
    const namedOnly =
      h.controllers !== "" && h.controllers.split(",").every((c) => c.startsWith("name="));
    const fresh = cgroup.placed.length === 1 && h.fstype === "cgroup2" && newCgroupns;
    return {
      fstype: h.fstype,
      subdir: sub,
      data: namedOnly ? `none,${h.controllers}` : h.controllers,
      hostDir: fresh ? undefined : dir,
    };
  });
}

/** The state JSON a hook reads on its stdin. */
export function hookState(
  r: Pick<ContainerRecord, "id" | "bundle" | "annotations">,
  status: string,
  pid: number,
) {
  return {
    ociVersion: OCI_VERSION,
    id: r.id,
    status,
    pid,
    bundle: r.bundle,
    annotations: r.annotations ?? {},
  };
}

/** Opens the fds the setup program refers to; closes them all on failure or when done. */
class FdSet {
  readonly fds: number[] = [];
  add(fd: number): number {
    this.fds.push(fd);
    return fd;
  }
  closeAll(): void {
    for (const fd of this.fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

export interface Created {
  record: ContainerRecord;
  spec: Spec;
  launch: Launch;
}

/**
 * `create`: validates, reserves the id, makes the cgroup and exec FIFO, starts the executor and
 * runs the setup program up to the wait on the FIFO, then records the container as created.
 */
export async function create(ctx: RuntimeContext, o: CreateOptions): Promise<Created> {
  const bundle = resolve(o.bundle);
  const spec = loadBundle(bundle, ctx.warn);
  const process = spec.process;
  if (!process) throw new HoodError("config.json has no process to run", "INVALID_SPEC");
  const caps = capabilityPlan(process, ctx.warn);
  const seccomp = await seccompPlan(spec, process, ctx.warn);
  const rootfs = isAbsolute(spec.root?.path ?? "")
    ? (spec.root?.path as string)
    : join(bundle, spec.root?.path ?? "rootfs");

  const dir = reserveId(ctx.root, o.id);
  const fds = new FdSet();
  let cgroup: ContainerCgroup | null = null;
  let launch: Launch | null = null;
  const a = addon();
  try {
    const fifo = fifoPath(ctx.root, o.id);
    a.mkfifo(fifo, 0o622);
    // mkfifo applies hood's umask; the init may be any uid by the time it opens the FIFO.
    chmodSync(fifo, 0o622);
    const fifoFd = fds.add(a.openat2(-100, fifo, OPEN.PATH | OPEN.CLOEXEC, 0, 0));
    const joinFds: Partial<Record<NamespaceType, number>> = {};
    for (const ns of spec.linux?.namespaces ?? []) {
      if (!ns.path) continue;
      try {
        joinFds[ns.type as NamespaceType] = fds.add(openSync(ns.path, "r"));
      } catch (e) {
        throw syscallError(`open the ${ns.type} namespace ${JSON.stringify(ns.path)}`, e);
      }
    }
    let consoleFd: number | null = null;
    if (process.terminal) {
      if (!o.consoleSocket) {
        throw new HoodError(
          "cannot allocate tty if runc will detach without setting console socket",
          "EINVAL",
        );
      }
      try {
        consoleFd = fds.add(a.unixConnect(o.consoleSocket));
      } catch (e) {
        throw syscallError(`connect to the console socket ${JSON.stringify(o.consoleSocket)}`, e);
      }
    }
    cgroup = createContainerCgroup(spec.linux?.cgroupsPath, o.id);
    applyResources(cgroup, spec, { warn: ctx.warn });
    const cgroupFd = cgroup.unified
      ? fds.add(openSync(cgroup.unified, OPEN.PATH | OPEN.CLOEXEC))
      : -1;
    const cgroupJoins = openV1Joins(cgroup.dirs, cgroup.unified);
    for (const j of cgroupJoins) fds.add(j.fd);
    const hasHooks = ["prestart", "createRuntime", "createContainer"].some(
      (k) => (spec.hooks?.[k as "prestart"] ?? []).length > 0,
    );
    const program: InitProgram = compileInit({
      spec,
      bundle,
      rootfs,
      joinFds,
      execFifoFd: fifoFd,
      consoleSocketFd: consoleFd,
      preserveFds: o.preserveFds ?? 0,
      noPivot: o.noPivot ?? false,
      hooks: hasHooks,
      capabilities: caps,
      seccomp,
      cgroups: cgroupMountPlan(cgroup, spec),
      cgroupJoins,
    });
    const base = { id: o.id, bundle, annotations: spec.annotations };
    launch = Launch.start({
      program,
      stdio: o.stdio ?? [0, 1, 2],
      cgroupFd,
      onSync: async (tag, pid) => {
        if (tag === TAG.USERNS && program.idmap) {
          writeIdMaps(pid, program.idmap.uid, program.idmap.gid);
        } else if (tag === TAG.HOOKS) {
          const state = hookState(base, "creating", pid);
          await runHooks(spec, "prestart", state);
          await runHooks(spec, "createRuntime", state);
          await runHooks(spec, "createContainer", state);
        }
      },
      onFd: async (tag, fd) => {
        if (tag === TAG.SECCOMP_LISTENER && seccomp?.listenerPath) {
          const state = hookState(base, "creating", launch?.processPid ?? 0);
          await sendSeccompListener(seccomp.listenerPath, fd, state, spec);
        }
        closeSync(fd);
      },
    });
    // Written while the executor sets the container up: no other command reads it before
    // state.json exists.
    writeSpec(ctx.root, o.id, spec);
    fds.closeAll();
    await launch.run(TAG.READY);
    const pid = launch.processPid;
    const stat = readStat(pid);
    if (!stat) throw new HoodError(`the container's init ${pid} vanished during create`, "ESRCH");
    const record: ContainerRecord = {
      ociVersion: OCI_VERSION,
      id: o.id,
      status: "created",
      pid,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: "root",
      annotations: spec.annotations,
      startTime: String(stat.startTime),
      cgroupPaths: cgroup.dirs,
    };
    writeRecord(ctx.root, record);
    if (o.pidFile) writePidFile(o.pidFile, pid);
    return { record, spec, launch };
  } catch (e) {
    fds.closeAll();
    if (launch) {
      // The clone3 child, when a fork step replaced it, is reaped by the Launch itself.
      launch.kill();
      await a.pidfdWait(launch.processPidfd).catch(() => undefined);
    }
    if (cgroup) await removeContainerCgroup(cgroup.dirs).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Writes the pid file atomically (temp file + rename), as runc does. */
export function writePidFile(path: string, pid: number): void {
  writeAtomic(resolve(path), String(pid), 0o644);
}

/**
 * `start`: opens the exec FIFO for reading, which lets the waiting init write its byte and
 * exec the user's process. Runs startContainer (in the container) and poststart hooks.
 */
export async function start(ctx: RuntimeContext, id: string): Promise<void> {
  const record = mustRead(ctx.root, id);
  await withLock(ctx.root, id, async () => {
    const status = currentStatus(ctx.root, record);
    if (status === "stopped")
      throw new HoodError("cannot start a container that has stopped", "STOPPED");
    if (status !== "created")
      throw new HoodError("cannot start an already running container", "RUNNING");
    await startCreated(ctx, record, readSpec(ctx.root, id), null);
  });
}

/** The work of start, shared with run (which also watches the exec through `launch`). */
export async function startCreated(
  ctx: RuntimeContext,
  record: ContainerRecord,
  spec: Spec,
  launch: Launch | null,
): Promise<void> {
  if ((spec.hooks?.startContainer ?? []).length > 0) {
    const { runStartContainerHooks } = await import("./exec.ts");
    await runStartContainerHooks(ctx, record, spec);
  }
  try {
    await openExecFifo(ctx.root, record);
  } catch (e) {
    // The init may have failed after it reported READY: its error is on the sync socket.
    if (launch) await launch.run(null);
    throw e;
  }
  // run still holds the sync socket: its end of file says the user's process was exec'd.
  if (launch) await launch.run(null);
  await runHooks(spec, "poststart", hookState(record, "running", record.pid));
}

async function openExecFifo(root: string, record: ContainerRecord): Promise<void> {
  const a = addon();
  const path = fifoPath(root, record.id);
  let fd: number;
  try {
    fd = a.openat2(-100, path, OPEN.RDONLY | OPEN.NONBLOCK | OPEN.CLOEXEC, 0, 0);
  } catch (e) {
    throw syscallError(`open the exec FIFO ${JSON.stringify(path)}`, e);
  }
  let pidfd = -1;
  try {
    pidfd = a.pidfdOpen(record.pid);
    // One wait on both: a poll left pending on a closed fd would confuse the next one.
    const first = (await a.waitAnyReadable([fd, pidfd])) === 0 ? "readable" : "exited";
    const buf = Buffer.alloc(1);
    let n = 0;
    try {
      n = readSync(fd, buf, 0, 1, null);
    } catch {
      n = 0;
    }
    if (first === "exited" && n === 0) {
      throw new HoodError("cannot start a container that has stopped", "STOPPED");
    }
    // unlink, not rmSync: rmSync loads Node's rimraf on its first call, even for one file.
    try {
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  } finally {
    closeSync(fd);
    if (pidfd >= 0) closeSync(pidfd);
  }
}

/** Signal names and numbers as `kill` accepts them: KILL, SIGKILL, 9. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0 && n < 65) return n;
  }
  const name = text.toUpperCase().replace(/^SIG/, "");
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const n = (osConstants.signals as Record<string, number | undefined>)[`SIG${name}`];
  if (n === undefined) throw new HoodError(`unknown signal ${JSON.stringify(text)}`, "EINVAL");
  return n;
}

/** Sends a signal to the init (pidfd, after checking the start time) or, with all, to every process. */
export async function kill(
  ctx: RuntimeContext,
  id: string,
  signal: number,
  all: boolean,
): Promise<void> {
  const record = mustRead(ctx.root, id);
  const status = currentStatus(ctx.root, record);
  if (status === "stopped" && !all) throw new HoodError("container not running", "ESRCH");
  const pids = all ? cgroupPids(record.cgroupPaths) : [record.pid];
  if (all && pids.length === 0 && status === "stopped")
    throw new HoodError("container not running", "ESRCH");
  for (const pid of pids)
    signalPid(pid, pid === record.pid ? BigInt(record.startTime) : null, signal);
}

/** pidfd first, then a start-time check, so that a reused pid is never signalled. */
export function signalPid(pid: number, startTime: bigint | null, signal: number): boolean {
  const a = addon();
  let pidfd: number;
  try {
    pidfd = a.pidfdOpen(pid);
  } catch {
    return false;
  }
  try {
    if (startTime !== null && readStat(pid)?.startTime !== startTime) return false;
    a.pidfdSendSignal(pidfd, signal);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "ESRCH") return false;
    throw syscallError(`signal ${signal} to pid ${pid}`, e);
  } finally {
    closeSync(pidfd);
  }
}

/** Waits (polling the pidfd) until pid, which need not be our child, has exited. */
async function waitGone(pid: number, startTime: bigint): Promise<void> {
  const a = addon();
  let pidfd: number;
  try {
    pidfd = a.pidfdOpen(pid);
  } catch {
    return;
  }
  try {
    if (readStat(pid)?.startTime !== startTime) return;
    await a.waitReadable(pidfd);
  } finally {
    closeSync(pidfd);
  }
}

/**
 * `delete`: a stopped container is removed; a created one is killed first (as runc does); a
 * running one only with force. A container that does not exist is fine with force.
 */
export async function remove(ctx: RuntimeContext, id: string, force: boolean): Promise<void> {
  const record = readRecord(ctx.root, id);
  if (!record) {
    // A half-created container (no state.json) is removed with force; else it does not exist.
    if (force) {
      removeContainerDir(ctx.root, id);
      return;
    }
    throw new HoodError("container does not exist", "ENOENT");
  }
  await withLock(ctx.root, id, async () => {
    const status = currentStatus(ctx.root, record);
    if (status !== "stopped") {
      if (status !== "created" && !force) {
        throw new HoodError(
          `cannot delete container ${id} that is not stopped: ${status}`,
          "RUNNING",
        );
      }
      signalPid(record.pid, BigInt(record.startTime), 9);
      for (const pid of cgroupPids(record.cgroupPaths)) signalPid(pid, null, 9);
      // A frozen process dies of SIGKILL only once thawed (v1 freezer).
      if (status === "paused") await thaw(record.cgroupPaths).catch(() => undefined);
      await waitGone(record.pid, BigInt(record.startTime));
    }
    await destroy(ctx, record);
  });
}

/** Poststop hooks, then the cgroup and the state directory. `known`: the spec, when in hand. */
export async function destroy(
  ctx: RuntimeContext,
  record: ContainerRecord,
  known?: Spec,
): Promise<void> {
  let spec: Spec | null = known ?? null;
  if (!spec) {
    try {
      spec = readSpec(ctx.root, record.id);
    } catch {
      spec = null;
    }
  }
  if (spec) {
    try {
      await runHooks(spec, "poststop", hookState(record, "stopped", 0));
    } catch (e) {
      ctx.warn((e as Error).message);
    }
  }
  await removeContainerCgroup(record.cgroupPaths).catch((e) => ctx.warn((e as Error).message));
  removeContainerDir(ctx.root, record.id);
}

export function state(ctx: RuntimeContext, id: string) {
  return ociState(ctx.root, mustRead(ctx.root, id));
}
