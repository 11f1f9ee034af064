/**
 * The overlay driver: each layer is a directory of its own files (whiteouts as overlayfs
 * whiteouts), a container is an overlayfs mount of its layers with a fresh upper dir.
 *
 * Mounting uses the new mount API: fsopen("overlay"), one `fsconfig(lowerdir+)` per layer,
 * fsmount, move_mount. Each lower is its own call, so neither the number of layers nor the
 * length of their paths meet mount(2)'s one-page option string (which the kernel truncates
 * silently). mount(2) is only a fallback, for kernels before 6.8, and refuses an option
 * string over 4095 bytes instead of mounting a truncated layer list.
 *
 * Containers are mounted with redirect_dir=off and metacopy=off so the upper dir holds every
 * change itself and `diff` reads only it; when an upper dir has redirect or metacopy xattrs
 * anyway (mounted by someone else, or `overlay.redirect_dir=on`), diff compares whole trees.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from "node:fs";
import { join } from "node:path";
import { DT, fsat, O, S, SINGLE, statAt } from "../../archive/fsat.ts";
import { layerFromUpperDir } from "../../archive/overlay-diff.ts";
import { HoodError, syscallError } from "../../errors.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { randomId } from "../ids.ts";
import { isMountPoint, unmountAll } from "../mounts.ts";
import {
  FSCONFIG,
  MOUNT_ATTR_RDONLY,
  MOVE_MOUNT_F_EMPTY_PATH,
  MS,
  storageAddon,
} from "../native.ts";
import { diffTrees } from "../tree-diff.ts";

/** mount(2) copies at most one page of options, the last byte being the NUL. */
export const LEGACY_OPTIONS_MAX = 4095;

export interface OverlayMountSpec {
  /** Lower directories, top first. */
  lowers: string[];
  upper?: string;
  work?: string;
  /** user.overlay.* xattrs (a mount inside a user namespace). */
  userxattr: boolean;
  redirectDir: boolean;
  readonly: boolean;
}

export type FsconfigCall =
  | { cmd: "string"; key: string; value: string }
  | { cmd: "flag"; key: string };

/** The fsconfig calls that describe an overlay mount, in order (before FSCONFIG_CMD_CREATE). */
export function overlayFsconfig(spec: OverlayMountSpec): FsconfigCall[] {
  if (spec.lowers.length === 0) throw new HoodError("overlay mount: no lower layer", "EINVAL");
  const calls: FsconfigCall[] = [{ cmd: "string", key: "source", value: "hood" }];
  for (const l of spec.lowers) calls.push({ cmd: "string", key: "lowerdir+", value: l });
  if (spec.upper) {
    calls.push({ cmd: "string", key: "upperdir", value: spec.upper });
    calls.push({ cmd: "string", key: "workdir", value: spec.work ?? "" });
  }
  calls.push({ cmd: "string", key: "redirect_dir", value: spec.redirectDir ? "on" : "off" });
  if (!spec.redirectDir) calls.push({ cmd: "string", key: "metacopy", value: "off" });
  calls.push({ cmd: "string", key: "index", value: "off" });
  if (spec.userxattr) calls.push({ cmd: "flag", key: "userxattr" });
  return calls;
}

/** overlayfs's escaping of a path in mount(2) options: `\`, `:` and `,` get a backslash. */
export function escapeOverlayPath(path: string): string {
  return path.replace(/([\\:,])/g, "\\$1");
}

/**
 * The mount(2) option string for an overlay mount. Throws OVERLAY_OPTIONS_TOO_LONG when it
 * does not fit in one page: the kernel would cut it short and silently drop layers.
 */
export function legacyOverlayOptions(spec: OverlayMountSpec): string {
  const parts = [`lowerdir=${spec.lowers.map(escapeOverlayPath).join(":")}`];
  if (spec.upper) {
    parts.push(`upperdir=${escapeOverlayPath(spec.upper)}`);
    parts.push(`workdir=${escapeOverlayPath(spec.work ?? "")}`);
  }
  parts.push(`redirect_dir=${spec.redirectDir ? "on" : "off"}`);
  if (!spec.redirectDir) parts.push("metacopy=off");
  parts.push("index=off");
  if (spec.userxattr) parts.push("userxattr");
  const data = parts.join(",");
  const bytes = Buffer.byteLength(data);
  if (bytes > LEGACY_OPTIONS_MAX) {
    throw new HoodError(
      `overlay mount: the options for ${spec.lowers.length} layers are ${bytes} bytes, over mount(2)'s limit of ${LEGACY_OPTIONS_MAX} (the kernel would drop layers silently); this kernel lacks fsconfig lowerdir+ (Linux 6.8)`,
      "OVERLAY_OPTIONS_TOO_LONG",
    );
  }
  return data;
}

/** True when this process is in a user namespace other than the initial one. */
function inUserNamespace(): boolean {
  try {
    const map = readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/);
    return !(map[0] === "0" && map[1] === "0" && map[2] === "4294967295");
  } catch {
    return false;
  }
}

/** Mounts overlay with the new mount API; returns false when the kernel lacks it. */
function mountNewApi(target: string, spec: OverlayMountSpec): boolean {
  const a = storageAddon();
  let fd: number;
  try {
    fd = a.fsOpen("overlay", 0);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOSYS") return false;
    throw syscallError(`mount overlay on ${JSON.stringify(target)}: fsopen`, e);
  }
  let mfd = -1;
  try {
    for (const c of overlayFsconfig(spec)) {
      try {
        if (c.cmd === "string") a.fsConfig(fd, FSCONFIG.SET_STRING, c.key, c.value, 0);
        else a.fsConfig(fd, FSCONFIG.SET_FLAG, c.key, null, 0);
      } catch (e) {
        // Before Linux 6.8 overlay has no "lowerdir+": the caller falls back to mount(2).
        if (c.key === "lowerdir+" && (e as { code?: string }).code === "EINVAL") return false;
        throw withLog(`mount overlay on ${JSON.stringify(target)}: fsconfig ${c.key}`, e, fd);
      }
    }
    try {
      a.fsConfig(fd, FSCONFIG.CMD_CREATE, null, null, 0);
    } catch (e) {
      throw withLog(`mount overlay on ${JSON.stringify(target)}: create`, e, fd);
    }
    try {
      mfd = a.fsMount(fd, 0, spec.readonly ? MOUNT_ATTR_RDONLY : 0);
      a.moveMount(mfd, "", -100, target, MOVE_MOUNT_F_EMPTY_PATH);
    } catch (e) {
      throw syscallError(`mount overlay on ${JSON.stringify(target)}`, e);
    }
    return true;
  } finally {
    closeSync(fd);
    if (mfd >= 0) closeSync(mfd);
  }
}

/** A syscall error with overlayfs's own explanation from the fs context, when it left one. */
function withLog(doing: string, e: unknown, fd: number): HoodError {
  let log: string[] = [];
  try {
    log = storageAddon().fsReadLog(fd);
  } catch {}
  const err = syscallError(doing, e);
  if (log.length === 0) return err;
  const text = log.map((l) => l.replace(/^[ewi] /, "").trim()).join("; ");
  return new HoodError(`${err.message}: ${text}`, err.code, { cause: e });
}

function mountLegacy(target: string, spec: OverlayMountSpec): void {
  const data = legacyOverlayOptions(spec);
  try {
    storageAddon().mount("overlay", target, "overlay", spec.readonly ? MS.RDONLY : 0, data);
  } catch (e) {
    throw syscallError(`mount overlay on ${JSON.stringify(target)}`, e);
  }
}

/** Mounts an overlay on `target`: the new API, or mount(2) where the kernel lacks it. */
export function mountOverlay(target: string, spec: OverlayMountSpec, legacyOnly = false): void {
  if (!legacyOnly && mountNewApi(target, spec)) return;
  mountLegacy(target, spec);
}

/**
 * The first upper-dir entry whose data or name lives in a lower layer (an overlay.redirect or
 * overlay.metacopy xattr), described; null when the upper dir holds all of its changes.
 */
export function redirectOrMetacopy(upper: string): string | null {
  const root = openSync(upper, "r");
  const walk = (dirFd: number, path: string): string | null => {
    for (const [name, type] of fsat().fsatReaddir(dirFd)) {
      if (type === DT.LNK) continue;
      const st = statAt(dirFd, name);
      if (!st) continue;
      const p = path === "" ? name.toString() : `${path}/${name.toString()}`;
      for (const x of readXattrNames(dirFd, name)) {
        if (x.endsWith("overlay.redirect") || x.endsWith("overlay.metacopy"))
          return `${JSON.stringify(p)} has ${x}`;
      }
      if ((st.mode & S.IFMT) === S.IFDIR) {
        const fd = fsat().fsatOpen(dirFd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, 0, SINGLE);
        try {
          const r = walk(fd, p);
          if (r) return r;
        } finally {
          closeSync(fd);
        }
      }
    }
    return null;
  };
  try {
    return walk(root, "");
  } finally {
    closeSync(root);
  }
}

function readXattrNames(dirFd: number, name: Buffer): string[] {
  const fd = fsat().fsatOpen(dirFd, name, O.PATH | O.NOFOLLOW, 0, SINGLE);
  try {
    return fsat().fsatListxattr(fd).toString("utf8").split("\0").filter(Boolean);
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (c === "ENOTSUP" || c === "EOPNOTSUPP") return [];
    throw e;
  } finally {
    closeSync(fd);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return [];
    throw syscallError(`list ${JSON.stringify(dir)}`, e);
  }
}

export class OverlayDriver implements Driver {
  readonly name = "overlay" as const;
  readonly whiteouts = "overlay" as const;
  readonly rootless: boolean;
  private readonly redirectDir: boolean;
  private readonly legacyOnly: boolean;

  constructor(private readonly ctx: DriverContext) {
    this.rootless = ctx.options.userxattr ? ctx.options.userxattr === "true" : inUserNamespace();
    this.redirectDir = ctx.options.redirect_dir === "on";
    this.legacyOnly = ctx.options.mount_api === "legacy";
  }

  private layerDir(id: string): string {
    return join(this.ctx.home, "layers", id);
  }

  private diffDir(id: string): string {
    return join(this.layerDir(id), "diff");
  }

  private containerDir(id: string): string {
    return join(this.ctx.home, "containers", id);
  }

  async init(): Promise<void> {
    for (const d of ["layers", "containers", "tmp"]) {
      mkdirSync(join(this.ctx.home, d), { recursive: true, mode: 0o700 });
    }
    // Lower-only mounts a crash left in tmp/.
    for (const n of listDir(join(this.ctx.home, "tmp"))) {
      const p = join(this.ctx.home, "tmp", n);
      unmountAll(p);
      rmSync(p, { recursive: true, force: true });
    }
  }

  async createLayer(
    id: string,
    _parent: string | undefined,
    fill: (dir: string) => Promise<void>,
  ): Promise<void> {
    mkdirSync(this.diffDir(id), { recursive: true, mode: 0o755 });
    await fill(this.diffDir(id));
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
    return fn(this.diffDir(id));
  }

  private spec(id: string, chain: string[]): OverlayMountSpec {
    const c = this.containerDir(id);
    return {
      lowers: chain.map((l) => this.diffDir(l)),
      upper: join(c, "upper"),
      work: join(c, "work"),
      userxattr: this.rootless,
      redirectDir: this.redirectDir,
      readonly: false,
    };
  }

  async createContainer(id: string, chain: string[], mount = true): Promise<string> {
    const c = this.containerDir(id);
    for (const d of ["upper", "work", "merged"]) mkdirSync(join(c, d), { recursive: true });
    return mount ? this.mountContainer(id, chain) : this.containerPath(id);
  }

  async mountContainer(id: string, chain: string[]): Promise<string> {
    const merged = this.containerPath(id);
    if (!isMountPoint(merged)) mountOverlay(merged, this.spec(id, chain), this.legacyOnly);
    return merged;
  }

  async unmountContainer(id: string): Promise<void> {
    unmountAll(this.containerPath(id));
  }

  containerPath(id: string): string {
    return join(this.containerDir(id), "merged");
  }

  isMounted(id: string): boolean {
    return isMountPoint(this.containerPath(id));
  }

  async removeContainer(id: string): Promise<void> {
    unmountAll(this.containerPath(id));
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  async diffContainer(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    const upper = join(this.containerDir(id), "upper");
    const reason = redirectOrMetacopy(upper);
    if (reason) {
      this.ctx.warn(`diff ${id}: ${reason}: comparing whole trees instead`);
      await this.fullDiff(id, chain, sink);
      return;
    }
    await layerFromUpperDir(upper, sink);
  }

  /** Compares the container's merged view with its image's merged view. */
  private async fullDiff(
    id: string,
    chain: string[],
    sink: (chunk: Buffer) => void | Promise<void>,
  ): Promise<void> {
    const merged = await this.mountContainer(id, chain);
    let lowerView = this.diffDir(chain[0]!);
    let tmp: string | undefined;
    if (chain.length > 1) {
      tmp = join(this.ctx.home, "tmp", randomId().slice(0, 16));
      mkdirSync(tmp);
      mountOverlay(
        tmp,
        {
          lowers: chain.map((l) => this.diffDir(l)),
          userxattr: this.rootless,
          redirectDir: this.redirectDir,
          readonly: true,
        },
        this.legacyOnly,
      );
      lowerView = tmp;
    }
    const lfd = openSync(lowerView, "r");
    const ufd = openSync(merged, "r");
    try {
      await diffTrees(lfd, ufd, sink);
    } finally {
      closeSync(lfd);
      closeSync(ufd);
      if (tmp) {
        unmountAll(tmp);
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  }

  async listLayers(): Promise<string[]> {
    return listDir(join(this.ctx.home, "layers"));
  }

  async listContainers(): Promise<string[]> {
    return listDir(join(this.ctx.home, "containers"));
  }
}
