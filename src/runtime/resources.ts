/**
 * A container's `linux.resources` in its cgroups: each resource goes to the v1 controller when
 * the host binds one, else to cgroup2 when it offers the controller (a hybrid host can have
 * both); a resource the host can apply nowhere is an error that names it (network, which only
 * v1 has, is skipped with a warning, as runc skips it). Also freeze/thaw for pause and resume,
 * and the OOM counters.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { HoodError, syscallError } from "../errors.ts";
import {
  blkioV1,
  cpusetV1,
  cpuV1,
  hugetlbV1,
  memoryV1,
  netClsV1,
  netPrioV1,
  pidsV1,
  rdmaWrites,
  type V1Host,
} from "../linux/cgroup-v1.ts";
import {
  cpusetV2,
  cpuV2,
  hugetlbV2,
  ioV2,
  memoryV2,
  pidsV2,
  unifiedV2,
  type V2Host,
} from "../linux/cgroup-v2.ts";
import {
  type CgroupWrite,
  type ContainerCgroup,
  cgroupFromDirs,
  enableV2Controllers,
  hasFile,
  v2Controllers,
} from "../linux/cgroups.ts";
import {
  DeviceEmulator,
  type DeviceRule,
  deviceProgram,
  encodeProgram,
  fromSpec,
  ruleText,
} from "../linux/device-filter.ts";
import { addon } from "../native/addon.ts";
import { DEFAULT_DEVICE_RULES } from "../oci/defaults.ts";
import type { LinuxDeviceCgroup, LinuxResources, Spec } from "../oci/runtime-spec.ts";

export interface ResourceOptions {
  /** Where a skipped or ignored resource is reported. */
  warn: (message: string) => void;
}

/** Where one kind of resource goes on this host. */
type Place = { version: 1; dir: string } | { version: 2; dir: string; controller: string } | null;

/** The controllers cgroup2 could give the container: those of the mount's root. */
function v2Offer(cg: ContainerCgroup): Set<string> {
  return new Set(cg.unifiedMount ? v2Controllers(cg.unifiedMount) : []);
}

function placeOf(cg: ContainerCgroup, offer: Set<string>, v1: string, v2: string | null): Place {
  const dir = cg.v1[v1];
  if (dir) return { version: 1, dir };
  if (cg.unified && v2 !== null && offer.has(v2)) {
    return { version: 2, dir: cg.unified, controller: v2 };
  }
  return null;
}

function v1Host(cg: ContainerCgroup): V1Host {
  return {
    has: (c, f) => (cg.v1[c] ? hasFile(cg.v1[c], f) : false),
    read: (c, f) => {
      const dir = cg.v1[c];
      if (!dir) return null;
      try {
        return readFileSync(join(dir, f), "utf8").trim();
      } catch {
        return null;
      }
    },
  };
}

/** A host with nothing: planning against it says whether a resource is set at all. */
const NO_HOST: V1Host = { has: () => false, read: () => null };

function writeValue(path: string, value: string): void {
  // One write(2) on an existing file: cgroup files take one value per write and cannot be created.
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

function readValue(dir: string, file: string): string | null {
  try {
    return readFileSync(join(dir, file), "utf8").trim();
  } catch {
    return null;
  }
}

function failure(w: CgroupWrite, path: string, e: unknown, dir: string): HoodError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EBUSY" && (w.file === "memory.limit_in_bytes" || w.file === "memory.max")) {
    const v1 = w.file === "memory.limit_in_bytes";
    const usage = readValue(dir, v1 ? "memory.usage_in_bytes" : "memory.current") ?? "?";
    const peak = readValue(dir, v1 ? "memory.max_usage_in_bytes" : "memory.peak") ?? "?";
    return new HoodError(
      `set ${w.field}: unable to set memory limit to ${w.value} (current usage: ${usage}, peak usage: ${peak})`,
      "EBUSY",
      { cause: e },
    );
  }
  return syscallError(
    `set ${w.field}: write ${JSON.stringify(w.value)} to ${JSON.stringify(path)}`,
    e,
  );
}

/** Writes in order; a `retryLater` write refused with EINVAL is tried again at the end. */
export function runWrites(dir: string, writes: readonly CgroupWrite[]): void {
  const later: CgroupWrite[] = [];
  const one = (w: CgroupWrite, retry: boolean) => {
    const path = join(dir, w.file);
    try {
      writeValue(path, w.value);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!retry && w.retryLater && code === "EINVAL") {
        later.push(w);
        return;
      }
      if (w.optional && code === "ENOENT") return;
      throw failure(w, path, e, dir);
    }
    if (w.readBack) {
      const got = readValue(dir, w.file);
      if (got !== null && got !== w.value && /^\d+$/.test(got)) {
        const bound = BigInt(w.value) > BigInt(got) ? "maximum" : "minimum";
        throw new HoodError(`set ${w.field}: the ${bound} allowed cpu-shares is ${got}`, "EINVAL");
      }
    }
  };
  for (const w of writes) one(w, false);
  for (const w of later) one(w, true);
}

/** The device rules runc enforces: the config's, then the defaults every container gets. */
export function deviceRules(devices: readonly LinuxDeviceCgroup[] | undefined): DeviceRule[] {
  return [...(devices ?? []), ...DEFAULT_DEVICE_RULES].map(fromSpec);
}

/** v1: the minimal writes from the cgroup's current rules to the wanted ones, then a check. */
function applyDevicesV1(dir: string, rules: readonly DeviceRule[]): void {
  const target = DeviceEmulator.fromRules(rules);
  const list = () => readFileSync(join(dir, "devices.list"), "utf8");
  const current = DeviceEmulator.fromList(list());
  for (const r of current.transition(target)) {
    const file = r.allow ? "devices.allow" : "devices.deny";
    const path = join(dir, file);
    try {
      writeValue(path, ruleText(r));
    } catch (e) {
      throw syscallError(
        `set linux.resources.devices: write ${JSON.stringify(ruleText(r))} to ${JSON.stringify(path)}`,
        e,
      );
    }
  }
  const after = DeviceEmulator.fromList(list());
  const same = target.defaultAllow ? after.defaultAllow : after.equals(target);
  if (!same) {
    throw new HoodError(
      `set linux.resources.devices: ${dir}/devices.list does not match the rules after writing them`,
      "EIO",
    );
  }
}

const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;

interface BpfAddon {
  bpfProgLoad(type: number, insns: Buffer, license: string): number;
  bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void;
  bpfProgDetach(targetFd: number, progFd: number, attachType: number): void;
  bpfProgQuery(targetFd: number, attachType: number): number[];
  bpfProgGetFdById(id: number): number;
}

function bpf(): BpfAddon {
  const a = addon() as unknown as Partial<BpfAddon>;
  if (typeof a.bpfProgLoad !== "function") {
    throw new HoodError(
      "hood's native addon has no bpf functions: rebuild it with `npm run build`",
      "ENOSYS",
    );
  }
  return a as BpfAddon;
}

/**
 * v2: load the device program and attach it to the cgroup next to the ones already there, then
 * detach those, so the cgroup is never without a filter (runc's order).
 */
export function applyDevicesV2(dir: string, rules: readonly DeviceRule[]): void {
  const b = bpf();
  const what = "set linux.resources.devices";
  let prog: number;
  try {
    prog = b.bpfProgLoad(
      BPF_PROG_TYPE_CGROUP_DEVICE,
      encodeProgram(deviceProgram(rules)),
      "Apache",
    );
  } catch (e) {
    throw syscallError(`${what}: load the device filter program`, e);
  }
  let dirFd = -1;
  try {
    try {
      dirFd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (e) {
      throw syscallError(`${what}: open ${JSON.stringify(dir)}`, e);
    }
    let old: number[] = [];
    try {
      old = b.bpfProgQuery(dirFd, BPF_CGROUP_DEVICE);
    } catch {
      old = [];
    }
    try {
      b.bpfProgAttach(dirFd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
    } catch (e) {
      throw syscallError(`${what}: attach the device filter to ${JSON.stringify(dir)}`, e);
    }
    for (const id of old) {
      let fd = -1;
      try {
        fd = b.bpfProgGetFdById(id);
        b.bpfProgDetach(dirFd, fd, BPF_CGROUP_DEVICE);
      } catch (e) {
        throw syscallError(
          `${what}: detach the old device filter ${id} from ${JSON.stringify(dir)}`,
          e,
        );
      } finally {
        if (fd >= 0) closeSync(fd);
      }
    }
  } finally {
    if (dirFd >= 0) closeSync(dirFd);
    closeSync(prog);
  }
}

interface Kind {
  /** The spec field, for messages. */
  name: string;
  v1: string;
  v2: string | null;
  plan1: (r: LinuxResources, host: V1Host) => CgroupWrite[];
  plan2: ((r: LinuxResources, host: V2Host, warn: (m: string) => void) => CgroupWrite[]) | null;
  /** Skipped with a warning where the host lacks it, instead of an error. */
  skippable?: boolean;
}

/** The resources in runc's order of subsystems. */
const KINDS: readonly Kind[] = [
  {
    name: "cpu.cpus/mems",
    v1: "cpuset",
    v2: "cpuset",
    plan1: (r) => cpusetV1(r.cpu),
    plan2: (r) => cpusetV2(r.cpu),
  },
  {
    name: "memory",
    v1: "memory",
    v2: "memory",
    plan1: (r, h) => memoryV1(r.memory, h),
    plan2: (r, _h, warn) => memoryV2(r.memory, warn),
  },
  {
    name: "cpu",
    v1: "cpu",
    v2: "cpu",
    plan1: (r) => cpuV1(r.cpu),
    plan2: (r) => cpuV2(r.cpu),
  },
  {
    name: "pids",
    v1: "pids",
    v2: "pids",
    plan1: (r) => pidsV1(r.pids?.limit),
    plan2: (r) => pidsV2(r.pids?.limit),
  },
  {
    name: "blockIO",
    v1: "blkio",
    v2: "io",
    plan1: (r, h) => blkioV1(r.blockIO, h),
    plan2: (r, h, warn) => ioV2(r.blockIO, h, warn),
  },
  {
    name: "hugepageLimits",
    v1: "hugetlb",
    v2: "hugetlb",
    plan1: (r) => hugetlbV1(r.hugepageLimits),
    plan2: (r) => hugetlbV2(r.hugepageLimits),
  },
  {
    name: "network.classID",
    v1: "net_cls",
    v2: null,
    plan1: (r) => netClsV1(r.network),
    plan2: null,
    skippable: true,
  },
  {
    name: "network.priorities",
    v1: "net_prio",
    v2: null,
    plan1: (r) => netPrioV1(r.network),
    plan2: null,
    skippable: true,
  },
  {
    name: "rdma",
    v1: "rdma",
    v2: "rdma",
    plan1: (r) => rdmaWrites(r.rdma),
    plan2: (r) => rdmaWrites(r.rdma),
  },
];

export interface SetOptions extends ResourceOptions {
  /** Apply the device rules (always at create; at update only when they were given). */
  devices: boolean;
}

/** Writes every resource into the container's cgroups, in runc's order. */
export function setResources(cg: ContainerCgroup, r: LinuxResources, o: SetOptions): void {
  const offer = v2Offer(cg);
  const v2Host: V2Host = { has: (f) => (cg.unified ? hasFile(cg.unified, f) : false) };
  for (const k of KINDS) {
    // runc's v1 order puts devices between cpuset and memory.
    if (k.name === "memory" && o.devices) setDevices(cg, r.devices, o);
    const place = placeOf(cg, offer, k.v1, k.v2);
    if (place === null) {
      if (k.plan1(r, NO_HOST).length === 0) continue;
      const message = `linux.resources.${k.name}: the host has no ${k.v1}${k.v2 && k.v2 !== k.v1 ? ` (v2: ${k.v2})` : ""} cgroup controller`;
      if (k.skippable) {
        o.warn(`${message}; skipped`);
        continue;
      }
      throw new HoodError(message, "ENOTSUP");
    }
    if (place.version === 1) {
      runWrites(place.dir, k.plan1(r, v1Host(cg)));
      continue;
    }
    const writes = k.plan2?.(r, v2Host, o.warn) ?? [];
    if (writes.length === 0) continue;
    enableOrFail(cg, [place.controller], `linux.resources.${k.name}`);
    runWrites(place.dir, writes);
  }
  setUnified(cg, r.unified, offer);
}

function enableOrFail(cg: ContainerCgroup, controllers: string[], field: string): void {
  if (!cg.unified || !cg.unifiedMount) return;
  try {
    enableV2Controllers(cg.unified, cg.unifiedMount, controllers);
  } catch (e) {
    const he = e as HoodError;
    throw new HoodError(`set ${field}: ${he.message}`, he.code ?? "EIO", { cause: e });
  }
}

function setDevices(
  cg: ContainerCgroup,
  devices: readonly LinuxDeviceCgroup[] | undefined,
  o: ResourceOptions,
): void {
  const rules = deviceRules(devices);
  if (cg.v1.devices) {
    applyDevicesV1(cg.v1.devices, rules);
  } else if (cg.unified) {
    applyDevicesV2(cg.unified, rules);
  } else if ((devices ?? []).length > 0) {
    throw new HoodError(
      "linux.resources.devices: the host has no devices cgroup controller",
      "ENOTSUP",
    );
  } else {
    o.warn("the host has no devices cgroup: device access is not restricted");
  }
}

/** Raw cgroup2 files; only where cgroup2 is mounted. A key's controller is enabled first. */
function setUnified(
  cg: ContainerCgroup,
  unified: Record<string, string> | undefined,
  offer: Set<string>,
): void {
  const writes = unifiedV2(unified);
  if (writes.length === 0) return;
  if (!cg.unified) {
    throw new HoodError(
      "linux.resources.unified: cgroup v2 is not mounted on this host",
      "ENOTSUP",
    );
  }
  for (const w of writes) {
    if (w.controller === "") continue;
    if (!offer.has(w.controller)) {
      throw new HoodError(
        `${w.field}: unified resource ${JSON.stringify(w.file)} can't be set: controller ${JSON.stringify(w.controller)} not available`,
        "ENOTSUP",
      );
    }
    enableOrFail(cg, [w.controller], w.field);
  }
  runWrites(cg.unified, writes);
}

/**
 * Called by `create` right after `createContainerCgroup`: every `linux.resources` value, and
 * the device rules every container gets.
 */
export function applyResources(cgroup: ContainerCgroup, spec: Spec, opts: ResourceOptions): void {
  setResources(cgroup, spec.linux?.resources ?? {}, { ...opts, devices: true });
}

/** Merges `update` into `current` the way `runc update` does: only the fields given change. */
export function mergeResources(current: LinuxResources, update: LinuxResources): LinuxResources {
  const out: LinuxResources = structuredClone(current);
  const o = out as Record<string, unknown>;
  for (const [key, value] of Object.entries(update)) {
    if (value === undefined) continue;
    const prev = o[key];
    o[key] =
      prev && typeof prev === "object" && !Array.isArray(prev) && !Array.isArray(value)
        ? { ...(prev as object), ...(value as object) }
        : value;
  }
  return out;
}

/**
 * `update`: writes the merged resources of a running container. Device rules are rewritten only
 * when the update carries some.
 */
export function updateResources(
  cgroupPaths: readonly string[],
  merged: LinuxResources,
  update: LinuxResources,
  opts: ResourceOptions,
): void {
  setResources(cgroupFromDirs(cgroupPaths), merged, {
    ...opts,
    devices: update.devices !== undefined,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type FreezerState = "frozen" | "thawed" | "freezing";

function freezerPlace(cg: ContainerCgroup): Place {
  if (cg.v1.freezer) return { version: 1, dir: cg.v1.freezer };
  if (cg.unified && hasFile(cg.unified, "cgroup.freeze")) {
    return { version: 2, dir: cg.unified, controller: "" };
  }
  return null;
}

/** The freezer's state, or null when the host has no freezer or the cgroup is gone. */
export function freezerState(cgroupPaths: readonly string[]): FreezerState | null {
  const place = freezerPlace(cgroupFromDirs(cgroupPaths));
  if (!place) return null;
  if (place.version === 1) {
    const s = readValue(place.dir, "freezer.state");
    if (s === null) return null;
    return s === "FROZEN" ? "frozen" : s === "FREEZING" ? "freezing" : "thawed";
  }
  const events = readValue(place.dir, "cgroup.events");
  const wanted = readValue(place.dir, "cgroup.freeze");
  if (events === null) return null;
  if (/^frozen 1$/m.test(events)) return "frozen";
  return wanted === "1" ? "freezing" : "thawed";
}

function freezerWrite(dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    writeValue(path, value);
  } catch (e) {
    throw syscallError(`write ${JSON.stringify(value)} to ${JSON.stringify(path)}`, e);
  }
}

/**
 * Freezes every process of the container. v1 can stay FREEZING while processes keep forking:
 * retry, with an occasional thaw to let them settle, as runc does; give up (thawed) after ~5 s.
 */
export async function freeze(cgroupPaths: readonly string[]): Promise<void> {
  const place = freezerPlace(cgroupFromDirs(cgroupPaths));
  if (!place) throw new HoodError("pause: the host has no cgroup freezer", "ENOTSUP");
  if (place.version === 1) {
    for (let i = 0; i < 500; i++) {
      if (i % 50 === 49) {
        freezerWrite(place.dir, "freezer.state", "THAWED");
        await sleep(10);
      }
      freezerWrite(place.dir, "freezer.state", "FROZEN");
      const s = readValue(place.dir, "freezer.state");
      if (s === "FROZEN") return;
      if (s !== "FREEZING")
        throw new HoodError(`unexpected freezer state ${s} after freezing`, "EIO");
      await sleep(i < 10 ? 1 : 10);
    }
    freezerWrite(place.dir, "freezer.state", "THAWED");
    throw new HoodError(`unable to freeze ${JSON.stringify(place.dir)}`, "EBUSY");
  }
  freezerWrite(place.dir, "cgroup.freeze", "1");
  if (!(await waitEvents(place.dir, "frozen 1"))) {
    freezerWrite(place.dir, "cgroup.freeze", "0");
    throw new HoodError(
      `timed out waiting for ${JSON.stringify(place.dir)} to freeze`,
      "ETIMEDOUT",
    );
  }
}

export async function thaw(cgroupPaths: readonly string[]): Promise<void> {
  const place = freezerPlace(cgroupFromDirs(cgroupPaths));
  if (!place) throw new HoodError("resume: the host has no cgroup freezer", "ENOTSUP");
  if (place.version === 1) {
    freezerWrite(place.dir, "freezer.state", "THAWED");
    return;
  }
  freezerWrite(place.dir, "cgroup.freeze", "0");
  if (!(await waitEvents(place.dir, "frozen 0"))) {
    throw new HoodError(`timed out waiting for ${JSON.stringify(place.dir)} to thaw`, "ETIMEDOUT");
  }
}

async function waitEvents(dir: string, line: string): Promise<boolean> {
  const re = new RegExp(`^${line}$`, "m");
  for (let i = 0; i < 1000; i++) {
    const events = readValue(dir, "cgroup.events");
    if (events === null) return true;
    if (re.test(events)) return true;
    await sleep(i < 20 ? 1 : 10);
  }
  return false;
}

/** How many processes of the container the OOM killer has killed (0 when not measured). */
export function oomKillCount(cgroupPaths: readonly string[]): number {
  const cg = cgroupFromDirs(cgroupPaths);
  const text = cg.v1.memory
    ? readValue(cg.v1.memory, "memory.oom_control")
    : cg.unified
      ? readValue(cg.unified, "memory.events")
      : null;
  const m = /^oom_kill (\d+)$/m.exec(text ?? "");
  return m ? Number(m[1]) : 0;
}

/** For `run`: whether the OOM killer killed a process of the container. */
export function oomKilled(cgroupPaths: readonly string[]): boolean {
  return oomKillCount(cgroupPaths) > 0;
}
