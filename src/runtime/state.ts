/**
 * The state store: one directory per container under --root, holding `state.json` (the OCI
 * state plus what hood needs to find the container again), `spec.json` (the validated
 * config), the exec FIFO while the container is created but not started, and a lock file.
 * Writes are atomic (temp file, fsync, rename); a process is named by pid and start time.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { HoodError, syscallError } from "../errors.ts";
import { isAlive } from "../linux/proc.ts";
import { addon } from "../native/addon.ts";
import type { Spec, State } from "../oci/runtime-spec.ts";

export const DEFAULT_ROOT = "/run/hood";
export const OCI_VERSION = "1.2.0";

export type Status = "creating" | "created" | "running" | "paused" | "stopped";

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** The init's start time in clock ticks: with pid, it identifies the process. */
  startTime: string;
  /** Cgroup directories the container was placed in, for ps, kill --all and delete. */
  cgroupPaths: string[];
}

const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === "." || id === "..") {
    throw new HoodError(`invalid id format: ${id}`, "INVALID_ID");
  }
}

export function containerDir(root: string, id: string): string {
  return join(root, id);
}

/** Creates the container's directory; its existence is what makes an id taken. */
export function reserveId(root: string, id: string): string {
  validateId(id);
  try {
    mkdirSync(root, { recursive: true, mode: 0o711 });
  } catch (e) {
    throw syscallError(`create the state root ${JSON.stringify(root)}`, e);
  }
  const dir = containerDir(root, id);
  try {
    mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new HoodError("container with given ID already exists", "EXISTS");
    }
    throw syscallError(`create the state directory ${JSON.stringify(dir)}`, e);
  }
  return dir;
}

/** Writes a file atomically: a temp file in the same directory, fsync, rename. */
export function writeAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw syscallError(`write ${JSON.stringify(path)}`, e);
  }
}

export function writeRecord(root: string, record: ContainerRecord): void {
  writeAtomic(join(containerDir(root, record.id), "state.json"), `${JSON.stringify(record)}\n`);
}

export function writeSpec(root: string, id: string, spec: Spec): void {
  writeAtomic(join(containerDir(root, id), "spec.json"), `${JSON.stringify(spec)}\n`);
}

export function readSpec(root: string, id: string): Spec {
  return JSON.parse(readFileSync(join(containerDir(root, id), "spec.json"), "utf8")) as Spec;
}

/** The record, or null when the container does not exist (or never finished creating). */
export function readRecord(root: string, id: string): ContainerRecord | null {
  validateId(id);
  try {
    return JSON.parse(
      readFileSync(join(containerDir(root, id), "state.json"), "utf8"),
    ) as ContainerRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw syscallError(`read the state of ${id}`, e);
  }
}

export function mustRead(root: string, id: string): ContainerRecord {
  const r = readRecord(root, id);
  if (!r) throw new HoodError("container does not exist", "ENOENT");
  return r;
}

export function listIds(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((n) => existsSync(join(root, n, "state.json")))
      .sort();
  } catch {
    return [];
  }
}

export function fifoPath(root: string, id: string): string {
  return join(containerDir(root, id), "exec.fifo");
}

/** The status now: stopped once the init is gone, created while the exec FIFO exists. */
export function currentStatus(root: string, r: ContainerRecord): Status {
  if (r.status === "creating") return "creating";
  if (!isAlive(r.pid, BigInt(r.startTime))) return "stopped";
  if (existsSync(fifoPath(root, r.id))) return "created";
  if (r.status === "paused") return "paused";
  return "running";
}

/** The OCI state plus runc's extra fields, in runc's order. */
export interface StateOutput extends Omit<State, "status"> {
  status: Status;
  pid: number;
  rootfs: string;
  created: string;
  owner?: string;
}

/** The OCI state as `hood state` prints it (runc's field order and extras). */
export function ociState(root: string, r: ContainerRecord): StateOutput {
  const status = currentStatus(root, r);
  const s: StateOutput = {
    ociVersion: r.ociVersion,
    id: r.id,
    pid: status === "stopped" ? 0 : r.pid,
    status,
    bundle: r.bundle,
    rootfs: r.rootfs,
    created: r.created,
  };
  // runc's order: annotations (when there are any) before owner.
  if (r.annotations && Object.keys(r.annotations).length > 0) s.annotations = r.annotations;
  s.owner = r.owner;
  return s;
}

export function removeContainerDir(root: string, id: string): void {
  const dir = containerDir(root, id);
  // It holds only hood's own files: unlinked by name, without rmSync's stat of each entry.
  try {
    for (const name of readdirSync(dir)) unlinkSync(join(dir, name));
    rmdirSync(dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Holds an exclusive flock on the container's lock file while fn runs. */
export async function withLock<T>(root: string, id: string, fn: () => Promise<T>): Promise<T> {
  const path = join(containerDir(root, id), "lock");
  let fd: number;
  try {
    fd = openSync(path, "a+", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new HoodError("container does not exist", "ENOENT");
    }
    throw syscallError(`open the lock ${JSON.stringify(path)}`, e);
  }
  try {
    addon().flock(fd, 2);
    return await fn();
  } finally {
    closeSync(fd);
  }
}
