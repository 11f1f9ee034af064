/**
 * Test helpers for the executor: run a setup program the way the runtime will (socketpair,
 * sealed memfd, clone3, maps, start byte, program), collect its messages until the sync
 * socket closes, capture the container's output through a FIFO, and reap it by pidfd.
 * Also builds a throwaway busybox rootfs from busybox-static.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addon, type ExitStatus, executorPath } from "../../src/native/addon.ts";
import {
  decodeMessage,
  type ExecutorMessage,
  encodeProgram,
  encodeReply,
  MESSAGE_SIZE,
  MSG,
  REPLY,
  START,
  type Step,
  step,
} from "../../src/setup/program.ts";

export const SOCK_STREAM = 1;
export const SOCK_SEQPACKET = 5;

export const CLONE = {
  NEWNS: 0x00020000n,
  NEWCGROUP: 0x02000000n,
  NEWUTS: 0x04000000n,
  NEWIPC: 0x08000000n,
  NEWUSER: 0x10000000n,
  NEWPID: 0x20000000n,
  NEWNET: 0x40000000n,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
} as const;

/** Whether kernel tests can run here; pass as `skip` to `describe`/`test`. */
export function skipUnlessRoot(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  return false;
}

let executorFd: number | undefined;

/** The executor as a sealed memfd, made once per test process. */
export function executorMemfd(): number {
  executorFd ??= addon().memfdFromFile(executorPath(), "hood-executor");
  return executorFd;
}

export interface RunOptions {
  steps: readonly Step[];
  /** clone3 namespace flags. */
  flags?: bigint;
  /** Written to /proc/PID/{uid,gid}_map before the start byte; then the start byte is 'r'. */
  maps?: { uid: string; gid: string };
  /** Overrides the start byte (or sends none when null: the parent gives up). */
  start?: number | null;
  /** Fds the child keeps across its exec of the executor. */
  passFds?: number[];
  /** The executor fd to spawn (default: the sealed memfd). */
  executorFd?: number;
  /** Called for each SYNC message with the messages so far; returns the reply (default GO). */
  onSync?: (
    m: ExecutorMessage,
    pid: number,
    messages: ExecutorMessage[],
  ) => number | Promise<number>;
  /** Called right after clone3, before the start byte. */
  onSpawn?: (pid: number) => void;
  /** Sends these bytes instead of the encoded steps (malformed-program tests). */
  raw?: Buffer;
}

export interface RunResult {
  pid: number;
  messages: ExecutorMessage[];
  /** Fds that arrived with FD messages, in order. */
  fds: number[];
  /** Everything the child wrote to stdout and stderr. */
  output: string;
  status: ExitStatus;
  /** Whether the program could be sent (false when the child was already gone). */
  sent: boolean;
}

async function readAll(fd: number): Promise<string> {
  const native = addon();
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    await native.waitReadable(fd);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") break;
        throw e;
      }
      if (n === 0) return Buffer.concat(chunks).toString("utf8");
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
  }
}

/** Receives messages until end-of-file, answering SYNC through `onSync`. */
async function collect(
  sock: number,
  pid: number,
  onSync: RunOptions["onSync"],
): Promise<{ messages: ExecutorMessage[]; fds: number[] }> {
  const native = addon();
  const messages: ExecutorMessage[] = [];
  const fds: number[] = [];
  for (;;) {
    await native.waitReadable(sock);
    let got: ReturnType<typeof native.recvMsg>;
    try {
      got = native.recvMsg(sock, 4096, 4);
    } catch (e) {
      // The executor left without reading what was sent to it. The kernel reports that
      // once, ahead of the messages still queued: read on.
      if ((e as NodeJS.ErrnoException).code === "ECONNRESET") continue;
      throw e;
    }
    if (got === null) continue;
    if (got.data.length === 0) return { messages, fds };
    const m = decodeMessage(got.data.subarray(0, MESSAGE_SIZE));
    messages.push(m);
    fds.push(...got.fds);
    if (m.type === MSG.SYNC) {
      const reply = onSync ? await onSync(m, pid, messages) : REPLY.GO;
      native.sendMsg(sock, encodeReply(reply), []);
    }
  }
}

/** Runs a setup program in a new executor and waits for everything to finish. */
export async function runProgram(opts: RunOptions): Promise<RunResult> {
  const native = addon();
  const [parent, child] = native.socketpair(SOCK_SEQPACKET);
  const dir = mkdtempSync(join(tmpdir(), "hood-exec-"));
  const fifo = join(dir, "out");
  native.mkfifo(fifo, 0o600);
  const out = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const outW = openSync(fifo, constants.O_WRONLY);
  unlinkSync(fifo);
  rmSync(dir, { recursive: true });
  const stdin = openSync("/dev/null", constants.O_RDONLY);
  let spawned: { pid: number; pidfd: number };
  try {
    spawned = native.spawn({
      flags: opts.flags ?? 0n,
      cgroupFd: -1,
      syncFd: child,
      executorFd: opts.executorFd ?? executorMemfd(),
      passFds: opts.passFds ?? [],
      stdio: [stdin, outW, outW],
    });
  } finally {
    closeSync(child);
    closeSync(outW);
    closeSync(stdin);
  }
  const { pid, pidfd } = spawned;
  opts.onSpawn?.(pid);
  const output = readAll(out);
  let sent = false;
  let messages: ExecutorMessage[] = [];
  let fds: number[] = [];
  try {
    if (opts.maps) {
      writeFileSync(`/proc/${pid}/uid_map`, opts.maps.uid);
      writeFileSync(`/proc/${pid}/gid_map`, opts.maps.gid);
    }
    const start =
      opts.start === undefined ? (opts.maps ? START.BECOME_ROOT : START.GO) : opts.start;
    if (start !== null) {
      native.sendMsg(parent, Buffer.from([start]), []);
      try {
        native.sendMsg(parent, opts.raw ?? encodeProgram(opts.steps), []);
        sent = true;
      } catch (e) {
        // The child already left (what it said before is still queued).
        if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
      }
      ({ messages, fds } = await collect(parent, pid, opts.onSync));
    }
  } finally {
    // Without a start byte, this close is the end-of-file that makes the child leave.
    closeSync(parent);
  }
  const status = await native.pidfdWait(pidfd);
  closeSync(pidfd);
  const text = await output;
  closeSync(out);
  return { pid, messages, fds, output: text, status, sent };
}

/** A busybox rootfs in a temp dir: /bin/busybox from busybox-static plus a symlink per applet. */
export function makeBusyboxRootfs(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "hood-rootfs-"));
  for (const d of ["bin", "dev", "proc", "sys", "tmp", "etc", "root"]) mkdirSync(join(path, d));
  chmodSync(path, 0o755);
  copyFileSync("/bin/busybox", join(path, "bin", "busybox"));
  chmodSync(join(path, "bin", "busybox"), 0o755);
  const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n");
  for (const name of applets) {
    if (name && name !== "busybox" && !name.includes("/"))
      symlinkSync("busybox", join(path, "bin", name));
  }
  writeFileSync(join(path, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** The ERROR message of a run, if any. */
export function errorOf(r: RunResult): ExecutorMessage | undefined {
  return r.messages.find((m) => m.type === MSG.ERROR);
}

/** makedev() as glibc encodes it. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}

/**
 * The usual start of a container program (new mount namespace): private propagation, the
 * rootfs bound on itself so that it is a mount point, proc and a tmpfs /dev inside it.
 * The caller adds its own steps, then `pivot-root` and an exec.
 */
export function rootfsSteps(rootfs: string): Step[] {
  return [
    step("mount", {
      source: "",
      target: "/",
      fstype: "",
      flags: MS.REC | MS.PRIVATE,
      data: "",
      how: 4,
    }),
    step("open-root", { path: rootfs }),
    step("mount", {
      source: rootfs,
      target: "",
      fstype: "",
      flags: MS.BIND | MS.REC,
      data: "",
      how: 1,
    }),
    step("open-root", { path: rootfs }),
    step("mount", {
      source: "proc",
      target: "/proc",
      fstype: "proc",
      flags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
      data: "",
      how: 1 | 8,
    }),
    step("mount", {
      source: "tmpfs",
      target: "/dev",
      fstype: "tmpfs",
      flags: MS.NOSUID,
      data: "mode=755",
      how: 1,
    }),
  ];
}

/** An exec step of a busybox applet, PATH=/bin. */
export function execSh(script: string): Step {
  return step("exec", { candidates: ["/bin/sh"], argv: ["sh", "-c", script], envp: ["PATH=/bin"] });
}
