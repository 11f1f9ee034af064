/**
 * Starts the executor with clone3 and talks to it over the sync socket: writes the id maps,
 * sends the program, answers sync points, and turns ERROR(step, errno) into a message that
 * says which step failed on which path.
 */
import { closeSync, writeFileSync } from "node:fs";
import { describeErrno, errnoName, HoodError } from "../errors.ts";
import { addon, type ExitStatus, executorPath } from "../native/addon.ts";
import type { LinuxIDMapping } from "../oci/runtime-spec.ts";
import type { InitProgram } from "../setup/compile.ts";
import {
  decodeMessage,
  encodeProgram,
  encodeReply,
  MESSAGE_SIZE,
  MSG,
  REPLY,
  START,
  type Step,
} from "../setup/program.ts";

const SOCK_SEQPACKET = 5;

let executorFd: number | undefined;

/** The executor as a sealed memfd, made once per process: no path on disk is ever executed. */
function executor(): number {
  if (executorFd === undefined) executorFd = addon().memfdFromFile(executorPath(), "hood-executor");
  return executorFd;
}

export interface LaunchHandlers {
  /** Called at a `sync` step; the executor waits until this resolves. */
  onSync?: (tag: number, pid: number) => Promise<void> | void;
  /** Called at a `report` step. */
  onReport?: (tag: number) => Promise<void> | void;
  /** Called with an fd the executor passed (e.g. the seccomp listener); the handler owns it. */
  onFd?: (tag: number, fd: number) => Promise<void> | void;
}

export interface LaunchOptions extends LaunchHandlers {
  program: InitProgram;
  stdio: [number, number, number];
  /** A cgroup2 directory fd for CLONE_INTO_CGROUP, or -1. */
  cgroupFd?: number;
}

function mapText(maps: readonly LinuxIDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/** Writes uid_map then gid_map of pid; each must be one write. */
export function writeIdMaps(
  pid: number,
  uid: readonly LinuxIDMapping[],
  gid: readonly LinuxIDMapping[],
) {
  for (const [file, maps] of [
    ["uid_map", uid],
    ["gid_map", gid],
  ] as const) {
    const path = `/proc/${pid}/${file}`;
    try {
      writeFileSync(path, mapText(maps));
    } catch (e) {
      throw new HoodError(
        `write ${file} of the container's user namespace (${path}): ${describeErrno((e as NodeJS.ErrnoException).code ?? "EIO")}`,
        (e as NodeJS.ErrnoException).code ?? "EIO",
      );
    }
  }
}

/** A launched executor: the process that becomes the container's process. */
export class Launch {
  /** The clone3 child. */
  readonly pid: number;
  readonly pidfd: number;
  /** The process that will exec the container's program: the clone3 child or the forked one. */
  processPid: number;
  processPidfd: number;
  private sock: number;
  private closed = false;
  /** The clone3 child's pidfd while a fork step's parent is still being reaped. */
  private intermediateFd = -1;
  private readonly steps: readonly Step[];
  private readonly handlers: LaunchHandlers;

  private constructor(
    pid: number,
    pidfd: number,
    sock: number,
    steps: readonly Step[],
    h: LaunchHandlers,
  ) {
    this.pid = pid;
    this.pidfd = pidfd;
    this.processPid = pid;
    this.processPidfd = pidfd;
    this.sock = sock;
    this.steps = steps;
    this.handlers = h;
  }

  /** clone3s the executor, writes the maps, starts it and sends the program. */
  static start(o: LaunchOptions): Launch {
    const a = addon();
    const [parentEnd, childEnd] = a.socketpair(SOCK_SEQPACKET);
    let child: { pid: number; pidfd: number };
    try {
      child = a.spawn({
        flags: o.program.cloneFlags,
        cgroupFd: o.cgroupFd ?? -1,
        syncFd: childEnd,
        executorFd: executor(),
        passFds: o.program.passFds,
        stdio: o.stdio,
      });
    } catch (e) {
      closeSync(parentEnd);
      closeSync(childEnd);
      const code = (e as { code?: string }).code ?? "EIO";
      throw new HoodError(`clone the container's init: ${describeErrno(code)}`, code, { cause: e });
    }
    closeSync(childEnd);
    const launch = new Launch(child.pid, child.pidfd, parentEnd, o.program.steps, o);
    try {
      const encoded = encodeProgram(o.program.steps);
      if (o.program.idmap?.when === "clone") {
        writeIdMaps(child.pid, o.program.idmap.uid, o.program.idmap.gid);
      }
      const startByte = o.program.becomeRoot ? START.BECOME_ROOT : START.GO;
      a.sendMsg(parentEnd, Buffer.from([startByte]), []);
      a.sendMsg(parentEnd, encoded, []);
    } catch (e) {
      launch.kill();
      throw e;
    }
    return launch;
  }

  private async next(): Promise<{ data: Buffer; fds: number[] } | null> {
    const a = addon();
    for (;;) {
      let m: { data: Buffer; fds: number[] } | null;
      try {
        m = a.recvMsg(this.sock, 64, 4);
      } catch (e) {
        // The executor exited with something we sent unread: the kernel says so once, and the
        // messages it sent before are still queued behind it.
        if ((e as { code?: string }).code === "ECONNRESET") continue;
        throw e;
      }
      if (m === null) {
        await a.waitReadable(this.sock);
        continue;
      }
      if (m.data.length === 0) return null;
      return m;
    }
  }

  private failure(step: number, errno: number): HoodError {
    const what = step < 0 ? "start the executor" : (this.steps[step]?.what ?? `setup step ${step}`);
    return new HoodError(`${what}: ${describeErrno(errno)}`, errnoName(errno));
  }

  /**
   * Reads messages until the executor reports `untilTag`, or until it execs (end of file)
   * when untilTag is null. Throws the step's failure as a HoodError.
   */
  async run(untilTag: number | null): Promise<void> {
    const a = addon();
    for (;;) {
      const m = await this.next();
      if (m === null) {
        if (untilTag === null) return;
        throw await this.earlyExit();
      }
      if (m.data.length < MESSAGE_SIZE) continue;
      const msg = decodeMessage(m.data);
      switch (msg.type) {
        case MSG.ERROR:
          throw this.failure(msg.step, msg.errno);
        case MSG.FORKED: {
          this.processPid = Number(msg.value);
          this.processPidfd = a.pidfdOpen(this.processPid);
          // The clone3 child exits right after the fork; reap it, then forget its pidfd so
          // that nothing signals or waits on a closed (maybe reused) fd number.
          const intermediate = this.pidfd;
          this.intermediateFd = intermediate;
          void a.pidfdWait(intermediate).then(
            () => this.releaseIntermediate(intermediate),
            () => this.releaseIntermediate(intermediate),
          );
          break;
        }
        case MSG.SYNC: {
          try {
            await this.handlers.onSync?.(Number(msg.value), this.processPid);
          } catch (e) {
            a.sendMsg(this.sock, encodeReply(REPLY.ABORT), []);
            throw e;
          }
          a.sendMsg(this.sock, encodeReply(REPLY.GO), []);
          break;
        }
        case MSG.REPORT:
          await this.handlers.onReport?.(Number(msg.value));
          if (untilTag !== null && Number(msg.value) === untilTag) return;
          break;
        case MSG.FD:
          for (const fd of m.fds) await this.handlers.onFd?.(Number(msg.value), fd);
          break;
      }
    }
  }

  /** The executor closed the socket without exec: it died. Say how. */
  private async earlyExit(): Promise<HoodError> {
    const st = await addon().pidfdWait(this.processPidfd);
    return new HoodError(
      `the container's init exited during setup (${describeStatus(st)})`,
      "EXITED",
    );
  }

  private releaseIntermediate(fd: number): void {
    if (this.intermediateFd === fd) this.intermediateFd = -1;
    closeSync(fd);
  }

  /** Stops talking to the executor (create exits and leaves it waiting on the FIFO). */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.sock);
  }

  /** Kills whatever was started (after a failure), and reaps it. */
  kill(): void {
    const a = addon();
    const live =
      this.processPidfd === this.pidfd ? [this.pidfd] : [this.processPidfd, this.intermediateFd];
    for (const fd of live.filter((f) => f >= 0)) {
      try {
        a.pidfdSendSignal(fd, 9);
      } catch {
        // already gone
      }
    }
    this.detach();
  }
}

export function describeStatus(st: ExitStatus): string {
  if (st.signal !== null) return `killed by signal ${st.signal}`;
  return `exit status ${st.code}`;
}
