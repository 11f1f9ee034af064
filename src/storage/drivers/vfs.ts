/**
 * The vfs driver: every layer and every container is a whole directory tree, made by copying
 * its parent. Copies share file data with FICLONE where the filesystem has reflinks (btrfs,
 * xfs), so on those a copy costs metadata only; elsewhere the data is copied. Works on any
 * filesystem, needs no mount, and is the reference the other drivers are compared with.
 */
import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
} from "node:fs";
import { join } from "node:path";
import { syscallError } from "../../errors.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { copyTree } from "../tree-copy.ts";
import { diffTrees } from "../tree-diff.ts";

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return [];
    throw syscallError(`list ${JSON.stringify(dir)}`, e);
  }
}

/** Copies directory `from` into the new directory `to` (made here, with `from`'s metadata). */
function copyDir(from: string, to: string): void {
  mkdirSync(to, { mode: 0o755 });
  const src = openSync(from, "r");
  const dst = openSync(to, "r");
  try {
    copyTree(src, dst);
    const st = fstatSync(src);
    fchownSync(dst, st.uid, st.gid);
    fchmodSync(dst, st.mode & 0o7777);
    futimesSync(dst, st.atime, st.mtime);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

export class VfsDriver implements Driver {
  readonly name = "vfs" as const;
  readonly whiteouts = "apply" as const;

  constructor(private readonly ctx: DriverContext) {}

  private layerDir(id: string): string {
    return join(this.ctx.home, "layers", id);
  }

  private containerDir(id: string): string {
    return join(this.ctx.home, "containers", id);
  }

  async init(): Promise<void> {
    for (const d of ["layers", "containers"]) {
      mkdirSync(join(this.ctx.home, d), { recursive: true, mode: 0o700 });
    }
  }

  async createLayer(
    id: string,
    parent: string | undefined,
    fill: (dir: string) => Promise<void>,
  ): Promise<void> {
    const dir = this.layerDir(id);
    if (parent) copyDir(this.layerDir(parent), dir);
    else mkdirSync(dir, { mode: 0o755 });
    await fill(dir);
  }

  async renameLayer(from: string, to: string): Promise<void> {
    try {
      renameSync(this.layerDir(from), this.layerDir(to));
    } catch (e) {
      throw syscallError(`rename layer ${from} to ${to}`, e);
    }
  }

  async removeLayer(id: string): Promise<void> {
    rmSync(this.layerDir(id), { recursive: true, force: true });
  }

  async withLayerFiles<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T> {
    return fn(this.layerDir(id));
  }

  async createContainer(id: string, chain: string[]): Promise<string> {
    mkdirSync(this.containerDir(id), { mode: 0o700 });
    copyDir(this.layerDir(chain[0]!), this.containerPath(id));
    return this.containerPath(id);
  }

  async mountContainer(id: string): Promise<string> {
    return this.containerPath(id);
  }

  async unmountContainer(): Promise<void> {}

  containerPath(id: string): string {
    return join(this.containerDir(id), "rootfs");
  }

  isMounted(id: string): boolean {
    return existsSync(this.containerPath(id));
  }

  async removeContainer(id: string): Promise<void> {
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  async diffContainer(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    const lower = openSync(this.layerDir(chain[0]!), "r");
    const upper = openSync(this.containerPath(id), "r");
    try {
      await diffTrees(lower, upper, sink);
    } finally {
      closeSync(lower);
      closeSync(upper);
    }
  }

  async listLayers(): Promise<string[]> {
    return listDir(join(this.ctx.home, "layers"));
  }

  async listContainers(): Promise<string[]> {
    return listDir(join(this.ctx.home, "containers"));
  }
}
