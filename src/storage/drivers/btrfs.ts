/**
 * The btrfs driver: each layer is a subvolume, each child layer and each container a
 * writable snapshot of its parent (BTRFS_IOC_SUBVOL_CREATE_V2, BTRFS_IOC_SNAP_CREATE_V2,
 * BTRFS_IOC_SNAP_DESTROY through the addon; the btrfs CLI is never run). A snapshot costs the
 * same whatever the image's size. Finished layers are made read-only. With `btrfs.size` a
 * container gets an exclusive qgroup limit (quota is turned on for the filesystem once).
 * A container's changes are found by comparing its tree with its layer's.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
} from "node:fs";
import { join } from "node:path";
import { HoodError, syscallError } from "../../errors.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { FS_MAGIC, storageAddon } from "../native.ts";
import { parseSize } from "../size.ts";
import { diffTrees } from "../tree-diff.ts";

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return [];
    throw syscallError(`list ${JSON.stringify(dir)}`, e);
  }
}

function withFd<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw syscallError(`open ${JSON.stringify(path)}`, e);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** True when `path` is on btrfs. */
export function onBtrfs(path: string): boolean {
  return statfsSync(path).type === FS_MAGIC.BTRFS;
}

export class BtrfsDriver implements Driver {
  readonly name = "btrfs" as const;
  readonly whiteouts = "apply" as const;
  private readonly quota: number | undefined;

  constructor(private readonly ctx: DriverContext) {
    this.quota = ctx.options.size ? parseSize(ctx.options.size, "btrfs.size") : undefined;
  }

  private get layersDir(): string {
    return join(this.ctx.home, "layers");
  }

  private get containersDir(): string {
    return join(this.ctx.home, "containers");
  }

  async init(): Promise<void> {
    mkdirSync(this.layersDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.containersDir, { recursive: true, mode: 0o700 });
    if (!onBtrfs(this.ctx.home)) {
      throw new HoodError(
        `storage driver btrfs: ${JSON.stringify(this.ctx.home)} is not on a btrfs filesystem`,
        "ENOTSUP",
      );
    }
  }

  private snapshot(from: string, intoDir: string, name: string): void {
    withFd(from, (src) =>
      withFd(intoDir, (dir) => {
        try {
          storageAddon().btrfsSnapshot(src, dir, name, false);
        } catch (e) {
          throw syscallError(`btrfs snapshot ${JSON.stringify(from)} as ${name}`, e);
        }
      }),
    );
  }

  /** Deletes a subvolume; a plain directory (never a subvolume) is removed as files. */
  private destroy(dir: string, name: string): void {
    withFd(dir, (fd) => {
      try {
        storageAddon().btrfsSnapDestroy(fd, name);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "ENOENT") return;
        if (code === "EINVAL" || code === "ENOTTY" || code === "EPERM") {
          rmSync(join(dir, name), { recursive: true, force: true });
          return;
        }
        throw syscallError(`btrfs delete subvolume ${JSON.stringify(join(dir, name))}`, e);
      }
    });
  }

  async createLayer(
    id: string,
    parent: string | undefined,
    fill: (dir: string) => Promise<void>,
  ): Promise<void> {
    if (parent) {
      this.snapshot(join(this.layersDir, parent), this.layersDir, id);
    } else {
      withFd(this.layersDir, (dir) => {
        try {
          storageAddon().btrfsSubvolCreate(dir, id);
        } catch (e) {
          throw syscallError(`btrfs create subvolume ${id}`, e);
        }
      });
    }
    const path = join(this.layersDir, id);
    await fill(path);
    withFd(path, (fd) => storageAddon().btrfsSetReadonly(fd, true));
  }

  async renameLayer(from: string, to: string): Promise<void> {
    try {
      renameSync(join(this.layersDir, from), join(this.layersDir, to));
    } catch (e) {
      throw syscallError(`rename layer ${from} to ${to}`, e);
    }
  }

  async removeLayer(id: string): Promise<void> {
    this.destroy(this.layersDir, id);
  }

  async withLayerFiles<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T> {
    return fn(join(this.layersDir, id));
  }

  async createContainer(id: string, chain: string[]): Promise<string> {
    this.snapshot(join(this.layersDir, chain[0]!), this.containersDir, id);
    if (this.quota !== undefined) {
      const quota = this.quota;
      withFd(this.containerPath(id), (fd) => {
        try {
          storageAddon().btrfsQuotaEnable(fd);
        } catch (e) {
          throw syscallError("btrfs enable quota", e);
        }
        try {
          storageAddon().btrfsQgroupLimit(fd, quota);
        } catch (e) {
          throw syscallError(`btrfs limit container ${id} to ${quota} bytes`, e);
        }
      });
    }
    return this.containerPath(id);
  }

  async mountContainer(id: string): Promise<string> {
    return this.containerPath(id);
  }

  async unmountContainer(): Promise<void> {}

  containerPath(id: string): string {
    return join(this.containersDir, id);
  }

  isMounted(id: string): boolean {
    return listDir(this.containersDir).includes(id);
  }

  async removeContainer(id: string): Promise<void> {
    this.destroy(this.containersDir, id);
  }

  async diffContainer(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    const lower = openSync(join(this.layersDir, chain[0]!), "r");
    const upper = openSync(this.containerPath(id), "r");
    try {
      await diffTrees(lower, upper, sink);
    } finally {
      closeSync(lower);
      closeSync(upper);
    }
  }

  async listLayers(): Promise<string[]> {
    return listDir(this.layersDir);
  }

  async listContainers(): Promise<string[]> {
    return listDir(this.containersDir);
  }
}
