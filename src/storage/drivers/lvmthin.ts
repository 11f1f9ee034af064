/**
 * The lvmthin driver: layers and containers are thin volumes in a thin pool the user gives
 * (`lvmthin.thinpool=VG/POOL`). A base layer is a new thin volume with a filesystem on it
 * (ext4, or xfs with `lvmthin.fs=xfs`), a child layer and a container are thin snapshots of
 * their parent, so a container costs the same whatever the image's size. The driver runs
 * lvm2's own tools (lvcreate, lvchange, lvrename, lvremove, lvs) and mkfs; the commands are
 * built by pure functions and lvm2's errors are read into errno-like codes, so all of that is
 * tested without a pool. Device-mapper is needed at run time: without `/dev/mapper/control`
 * the driver says so and does nothing.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describeErrno, HoodError, syscallError } from "../../errors.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { isMountPoint, unmountAll } from "../mounts.ts";
import { MS, storageAddon } from "../native.ts";
import { parseSize } from "../size.ts";
import { diffTrees } from "../tree-diff.ts";

export const LAYER_PREFIX = "hood-l-";
export const CONTAINER_PREFIX = "hood-c-";
const DEFAULT_SIZE = 10 * 2 ** 30;

export interface LvmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command (argv[0] is the program); a seam so tests can see the commands. */
export type CommandRunner = (argv: string[]) => LvmResult;

export const runCommand: CommandRunner = (argv) => {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: "utf8",
    // lvm2 warns about fds it inherits; LVM_SUPPRESS_FD_WARNINGS keeps stderr to the point.
    env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1", LC_ALL: "C" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error) {
    return { status: 127, stdout: "", stderr: `${argv[0]}: ${(r.error as Error).message}` };
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

export interface ThinPool {
  vg: string;
  pool: string;
}

const LVM_NAME = /^[a-zA-Z0-9+_.][a-zA-Z0-9+_.-]*$/;

/** Reads `VG/POOL`; lvm2's name rules (letters, digits, `+_.-`, not starting with `-`). */
export function parseThinPool(text: string | undefined): ThinPool {
  const parts = (text ?? "").split("/");
  if (
    parts.length !== 2 ||
    !LVM_NAME.test(parts[0]!) ||
    !LVM_NAME.test(parts[1]!) ||
    parts.some((p) => p === "." || p === "..")
  ) {
    throw new HoodError(
      `storage driver lvmthin: set --storage-opt lvmthin.thinpool=VG/POOL (got ${JSON.stringify(text ?? "")})`,
      "USAGE",
    );
  }
  return { vg: parts[0]!, pool: parts[1]! };
}

/** The logical volume name of a layer or container ID (lvm2 allows 127 characters). */
export function lvName(kind: "layer" | "container", id: string): string {
  if (!/^[a-z0-9-]{1,100}$/.test(id)) {
    throw new HoodError(`lvmthin: ${kind} id ${JSON.stringify(id)} cannot name a volume`, "EINVAL");
  }
  return (kind === "layer" ? LAYER_PREFIX : CONTAINER_PREFIX) + id;
}

/** The ID a volume name stands for, or null for volumes hood did not make. */
export function idOfLv(name: string): { kind: "layer" | "container"; id: string } | null {
  if (name.startsWith(LAYER_PREFIX)) return { kind: "layer", id: name.slice(LAYER_PREFIX.length) };
  if (name.startsWith(CONTAINER_PREFIX)) {
    return { kind: "container", id: name.slice(CONTAINER_PREFIX.length) };
  }
  return null;
}

/** Device-mapper's node for a volume: dashes in both names doubled. */
export function devicePath(vg: string, lv: string): string {
  const esc = (s: string) => s.replace(/-/g, "--");
  return `/dev/mapper/${esc(vg)}-${esc(lv)}`;
}

/** The commands the driver runs, one function each. */
export const lvm = {
  createThin: (p: ThinPool, name: string, bytes: number): string[] => [
    "lvcreate",
    "--yes",
    "--type",
    "thin",
    "--virtualsize",
    `${bytes}b`,
    "--thinpool",
    p.pool,
    "--name",
    name,
    p.vg,
  ],
  snapshot: (p: ThinPool, origin: string, name: string): string[] => [
    "lvcreate",
    "--yes",
    "--snapshot",
    "--setactivationskip",
    "n",
    "--name",
    name,
    `${p.vg}/${origin}`,
  ],
  activate: (p: ThinPool, name: string): string[] => [
    "lvchange",
    "--activate",
    "y",
    "--ignoreactivationskip",
    `${p.vg}/${name}`,
  ],
  rename: (p: ThinPool, from: string, to: string): string[] => ["lvrename", p.vg, from, to],
  remove: (p: ThinPool, name: string): string[] => [
    "lvremove",
    "--yes",
    "--force",
    `${p.vg}/${name}`,
  ],
  list: (p: ThinPool): string[] => [
    "lvs",
    "--noheadings",
    "--separator",
    "|",
    "--options",
    "lv_name,pool_lv",
    p.vg,
  ],
  mkfs: (fs: "ext4" | "xfs", device: string): string[] =>
    fs === "xfs"
      ? ["mkfs.xfs", "-q", "-K", device]
      : [
          "mkfs.ext4",
          "-q",
          "-m",
          "0",
          "-E",
          "nodiscard,lazy_itable_init=1,lazy_journal_init=1",
          device,
        ],
};

/** Volumes of `pool` from `lvs` output (`name|pool` per line). */
export function parseLvs(stdout: string, pool: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split("\n")) {
    const [name, p] = line.trim().split("|");
    if (name && p === pool) out.push(name);
  }
  return out;
}

const ERRORS: [RegExp, string][] = [
  [/\/dev\/mapper\/control|device-mapper.*(driver|kernel|not (loaded|available))/i, "ENODEV"],
  [
    /volume group "[^"]*" not found|failed to find logical volume|not found in volume group/i,
    "ENOENT",
  ],
  [/already exists/i, "EEXIST"],
  [
    /insufficient free space|free space in thin pool|thin pool .* (is )?full|out of data space/i,
    "ENOSPC",
  ],
  [
    /in use|can't remove open logical volume|is used by another device|contains a filesystem in use/i,
    "EBUSY",
  ],
  [/invalid|not a valid|unrecognised|unrecognized/i, "EINVAL"],
  [/permission denied|must be root|only root/i, "EPERM"],
];

/** The one line of lvm2's stderr that says what failed, and an errno-like code for it. */
export function parseLvmError(stderr: string): { code: string; message: string } {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^WARNING:/i.test(l) && !/^File descriptor .* leaked/i.test(l));
  for (const [re, code] of ERRORS) {
    const line = lines.find((l) => re.test(l));
    if (line) return { code, message: line };
  }
  return { code: "EIO", message: lines[lines.length - 1] ?? "failed without a message" };
}

/** Why device-mapper cannot be used here, or null when `/dev/mapper/control` opens. */
export function deviceMapperUnavailable(): string | null {
  try {
    closeSync(openSync("/dev/mapper/control", "r+"));
    return null;
  } catch (e) {
    const code = (e as { code?: string }).code ?? "EIO";
    return `cannot open /dev/mapper/control: ${describeErrno(code)} (the kernel has no device-mapper, or it is not loaded: modprobe dm-thin-pool)`;
  }
}

export class LvmThinDriver implements Driver {
  readonly name = "lvmthin" as const;
  readonly whiteouts = "apply" as const;
  private readonly pool: ThinPool;
  private readonly size: number;
  private readonly fs: "ext4" | "xfs";

  constructor(
    private readonly ctx: DriverContext,
    private readonly run: CommandRunner = runCommand,
    private readonly mounter: Mounter = kernelMounter,
  ) {
    this.pool = parseThinPool(ctx.options.thinpool);
    this.size = ctx.options.size ? parseSize(ctx.options.size, "lvmthin.size") : DEFAULT_SIZE;
    const fs = ctx.options.fs ?? "ext4";
    if (fs !== "ext4" && fs !== "xfs") {
      throw new HoodError(`lvmthin.fs: want ext4 or xfs, got ${JSON.stringify(fs)}`, "USAGE");
    }
    this.fs = fs;
  }

  /** Runs a command; a failure becomes a HoodError with lvm2's own line and a code. */
  private exec(argv: string[]): string {
    const r = this.run(argv);
    if (r.status === 0) return r.stdout;
    const { code, message } = parseLvmError(r.stderr);
    throw new HoodError(`lvmthin: ${argv[0]} ${argv[argv.length - 1]}: ${message}`, code);
  }

  private device(lv: string): string {
    return devicePath(this.pool.vg, lv);
  }

  private mountDir(lv: string): string {
    return join(this.ctx.home, "mnt", lv);
  }

  async init(): Promise<void> {
    const why = this.mounter.unavailable();
    if (why) throw new HoodError(`storage driver lvmthin: ${why}`, "ENODEV");
    mkdirSync(join(this.ctx.home, "mnt"), { recursive: true, mode: 0o700 });
    // A crash may have left volumes mounted: they are unmounted before anything else.
    for (const lv of this.mounter.listMountDirs(join(this.ctx.home, "mnt"))) {
      this.mounter.unmount(this.mountDir(lv));
    }
  }

  private mount(lv: string, readonly: boolean): string {
    const dir = this.mountDir(lv);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (!this.mounter.isMounted(dir)) this.mounter.mount(this.device(lv), dir, this.fs, readonly);
    return dir;
  }

  private unmount(lv: string): void {
    const dir = this.mountDir(lv);
    this.mounter.unmount(dir);
    this.mounter.removeDir(dir);
  }

  async createLayer(
    id: string,
    parent: string | undefined,
    fill: (dir: string) => Promise<void>,
  ): Promise<void> {
    const lv = lvName("layer", id);
    if (parent) {
      this.exec(lvm.snapshot(this.pool, lvName("layer", parent), lv));
      this.exec(lvm.activate(this.pool, lv));
    } else {
      this.exec(lvm.createThin(this.pool, lv, this.size));
      this.exec(lvm.mkfs(this.fs, this.device(lv)));
    }
    const dir = this.mount(lv, false);
    try {
      if (!parent) this.mounter.removeDir(join(dir, "lost+found"));
      await fill(dir);
    } finally {
      this.unmount(lv);
    }
  }

  async renameLayer(from: string, to: string): Promise<void> {
    this.exec(lvm.rename(this.pool, lvName("layer", from), lvName("layer", to)));
  }

  private removeLv(lv: string): void {
    this.unmount(lv);
    try {
      this.exec(lvm.remove(this.pool, lv));
    } catch (e) {
      if ((e as HoodError).code !== "ENOENT") throw e;
    }
  }

  async removeLayer(id: string): Promise<void> {
    this.removeLv(lvName("layer", id));
  }

  async withLayerFiles<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const lv = lvName("layer", id);
    const dir = this.mount(lv, true);
    try {
      return await fn(dir);
    } finally {
      this.unmount(lv);
    }
  }

  async createContainer(id: string, chain: string[], mount = true): Promise<string> {
    const lv = lvName("container", id);
    this.exec(lvm.snapshot(this.pool, lvName("layer", chain[0]!), lv));
    if (!mount) return this.containerPath(id);
    this.exec(lvm.activate(this.pool, lv));
    return this.mount(lv, false);
  }

  async mountContainer(id: string): Promise<string> {
    const lv = lvName("container", id);
    this.exec(lvm.activate(this.pool, lv));
    return this.mount(lv, false);
  }

  async unmountContainer(id: string): Promise<void> {
    this.unmount(lvName("container", id));
  }

  containerPath(id: string): string {
    return this.mountDir(lvName("container", id));
  }

  isMounted(id: string): boolean {
    return this.mounter.isMounted(this.containerPath(id));
  }

  async removeContainer(id: string): Promise<void> {
    this.removeLv(lvName("container", id));
  }

  async diffContainer(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    const upperDir = await this.mountContainer(id);
    await this.withLayerFiles(chain[0]!, async (lowerDir) => {
      const lower = openSync(lowerDir, "r");
      const upper = openSync(upperDir, "r");
      try {
        await diffTrees(lower, upper, sink);
      } finally {
        closeSync(lower);
        closeSync(upper);
      }
    });
  }

  private volumes(): string[] {
    return parseLvs(this.exec(lvm.list(this.pool)), this.pool.pool);
  }

  async listLayers(): Promise<string[]> {
    return this.volumes()
      .map(idOfLv)
      .filter((v) => v?.kind === "layer")
      .map((v) => v!.id);
  }

  async listContainers(): Promise<string[]> {
    return this.volumes()
      .map(idOfLv)
      .filter((v) => v?.kind === "container")
      .map((v) => v!.id);
  }
}

/** The kernel side of the driver (mounts, device-mapper), a seam for unit tests. */
export interface Mounter {
  unavailable(): string | null;
  mount(device: string, dir: string, fs: string, readonly: boolean): void;
  unmount(dir: string): void;
  isMounted(dir: string): boolean;
  removeDir(dir: string): void;
  listMountDirs(dir: string): string[];
}

export const kernelMounter: Mounter = {
  unavailable: deviceMapperUnavailable,
  mount(device, dir, fs, readonly) {
    try {
      storageAddon().mount(device, dir, fs, readonly ? MS.RDONLY : 0, null);
    } catch (e) {
      throw syscallError(`mount ${device} on ${JSON.stringify(dir)}`, e);
    }
  },
  unmount: unmountAll,
  isMounted: isMountPoint,
  removeDir(dir) {
    try {
      rmdirSync(dir);
    } catch (e) {
      const code = (e as { code?: string }).code;
      // Never a recursive removal: the directory may still hold a mounted volume.
      if (code !== "ENOENT") throw syscallError(`remove ${JSON.stringify(dir)}`, e);
    }
  },
  listMountDirs(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
};
