/** Shared by the storage tests: layer fixtures, tree manifests, a loop-mounted btrfs image. */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  createReadStream,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fsat, O, SINGLE } from "../../../src/archive/fsat.ts";
import { extractLayer } from "../../../src/archive/index.ts";

export const isRoot = process.getuid?.() === 0;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hood-storage-${prefix}-`));
}

export async function* readChunks(path: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(path, { highWaterMark: 1 << 16 })) yield c as Buffer;
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

function setXattr(path: string, name: string, value: string): void {
  const fd = fsat().fsatOpen(-100, path, O.RDONLY | O.NOFOLLOW, 0, SINGLE);
  try {
    fsat().fsatSetxattr(fd, name, Buffer.from(value), 0);
  } finally {
    closeSync(fd);
  }
}

/** A fixed time, so that trees built twice are equal. */
const T = new Date("2024-01-02T03:04:05Z");

function tarOf(dir: string, out: string): Buffer {
  // --xattrs keeps user.* xattrs; sorted names and fixed times make the bytes stable.
  execFileSync("tar", [
    "--format=pax",
    "--xattrs",
    "--xattrs-include=*",
    "--sort=name",
    "--numeric-owner",
    "-C",
    dir,
    "-cf",
    out,
    ".",
  ]);
  return readFileSync(out);
}

function setTimes(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) setTimes(p);
    if (!st.isSymbolicLink()) utimesSync(p, T, T);
  }
  utimesSync(dir, T, T);
}

export interface Fixture {
  dir: string;
  /** Plain tar of the base layer. */
  base: Buffer;
  basePath: string;
  /** The child layer: plain tar, and the gzip of it (what is imported). */
  child: Buffer;
  childGzPath: string;
}

/**
 * Two layers: a base with files, dirs, a symlink, a hard link, a fifo, a set-uid file, a
 * device (as root), an xattr; a child that adds, replaces, whites out and makes a dir opaque.
 */
export function makeFixture(): Fixture {
  const dir = tempDir("fixture");
  const b = join(dir, "base");
  mkdirSync(join(b, "etc"), { recursive: true });
  mkdirSync(join(b, "usr/bin"), { recursive: true });
  mkdirSync(join(b, "var/lib/app"), { recursive: true });
  mkdirSync(join(b, "opt/old/deep"), { recursive: true });
  writeFileSync(join(b, "etc/hostname"), "base\n");
  writeFileSync(join(b, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  linkSync(join(b, "etc/passwd"), join(b, "etc/passwd-link"));
  writeFileSync(join(b, "usr/bin/tool"), Buffer.alloc(70000, 7));
  chmodSync(join(b, "usr/bin/tool"), 0o4755);
  symlinkSync("tool", join(b, "usr/bin/tool-alias"));
  writeFileSync(join(b, "var/lib/app/data"), "data\n");
  writeFileSync(join(b, "var/lib/app/remove-me"), "x\n");
  writeFileSync(join(b, "opt/old/deep/file"), "deep\n");
  writeFileSync(join(b, "opt/keep"), "keep\n");
  execFileSync("mkfifo", [join(b, "var/fifo")]);
  setXattr(join(b, "etc/hostname"), "user.hood", "base");
  if (isRoot) execFileSync("mknod", [join(b, "etc/null-dev"), "c", "1", "3"]);
  setTimes(b);
  const basePath = join(dir, "base.tar");
  const base = tarOf(b, basePath);

  const c = join(dir, "child");
  mkdirSync(join(c, "etc"), { recursive: true });
  mkdirSync(join(c, "var/lib/app"), { recursive: true });
  mkdirSync(join(c, "opt/old"), { recursive: true });
  writeFileSync(join(c, "etc/hostname"), "child\n");
  writeFileSync(join(c, "etc/added"), "added\n");
  writeFileSync(join(c, "var/lib/app/.wh.remove-me"), "");
  writeFileSync(join(c, "opt/old/.wh..wh..opq"), "");
  writeFileSync(join(c, "opt/old/fresh"), "fresh\n");
  setTimes(c);
  const childPath = join(dir, "child.tar");
  const child = tarOf(c, childPath);
  const childGzPath = join(dir, "child.tar.gz");
  writeFileSync(childGzPath, gzipSync(child));
  return { dir, base, basePath, child, childGzPath };
}

export interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  data?: string;
  link?: string;
  rdev?: number;
  mtime?: number;
  xattrs?: Record<string, string>;
  /** Other paths sharing this file's inode (hard links). */
  links?: string[];
}

function xattrsOf(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const fd = fsat().fsatOpen(-100, path, O.PATH | O.NOFOLLOW, 0, SINGLE);
  try {
    for (const x of fsat().fsatListxattr(fd).toString().split("\0")) {
      if (!x || x.includes("overlay.")) continue;
      out[x] = fsat().fsatGetxattr(fd, x)?.toString("hex") ?? "";
    }
  } catch {
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Everything a container can see of a tree, by relative path (directories' times left out). */
export function manifest(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const inodes = new Map<string, string[]>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const e: Entry = {
        type: st.isDirectory()
          ? "dir"
          : st.isSymbolicLink()
            ? "symlink"
            : st.isFile()
              ? "file"
              : st.isFIFO()
                ? "fifo"
                : st.isCharacterDevice()
                  ? "char"
                  : "other",
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
      };
      if (e.type !== "symlink") e.xattrs = xattrsOf(p);
      if (e.type === "file") {
        e.size = st.size;
        e.data = createHash("sha256").update(readFileSync(p)).digest("hex");
        e.mtime = st.mtimeMs;
        const key = `${st.dev}:${st.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), r]);
        (e as Entry & { key?: string }).key = key;
      }
      if (e.type === "symlink") e.link = readlinkSync(p);
      if (e.type === "char") e.rdev = st.rdev;
      out[r] = e;
      if (e.type === "dir") walk(p, r);
    }
  };
  walk(root, "");
  for (const e of Object.values(out) as (Entry & { key?: string })[]) {
    if (e.key) {
      const group = inodes.get(e.key)!;
      if (group.length > 1) e.links = [...group].sort();
      delete e.key;
    }
  }
  return out;
}

/** A plain directory with the given layer tars applied in order (the reference view). */
export async function applyLayers(dir: string, tars: Buffer[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const t of tars) {
    await extractLayer(
      (async function* () {
        yield t;
      })(),
      dir,
      { whiteouts: "apply" },
    );
  }
}

/** A btrfs filesystem on a loop device, made for one test file and removed by close(). */
export class BtrfsImage {
  readonly dir = tempDir("btrfs");
  readonly image = join(this.dir, "fs.img");
  readonly mnt = join(this.dir, "mnt");
  loop = "";

  /** Why it cannot be made here, or null. */
  static unavailable(): string | null {
    if (!isRoot) return "needs root";
    if (spawnSync("mkfs.btrfs", ["--version"]).status !== 0)
      return "mkfs.btrfs not installed (apt-get install btrfs-progs)";
    if (!readFileSync("/proc/filesystems", "utf8").includes("btrfs"))
      return "the kernel has no btrfs";
    return null;
  }

  constructor(size = "1G") {
    try {
      execFileSync("truncate", ["-s", size, this.image]);
      execFileSync("mkfs.btrfs", ["-q", this.image], { stdio: "ignore" });
      this.loop = execFileSync("losetup", ["--find", "--show", this.image], {
        encoding: "utf8",
      }).trim();
      mkdirSync(this.mnt);
      execFileSync("mount", [this.loop, this.mnt]);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  close(): void {
    if (readFileSync("/proc/self/mountinfo", "utf8").includes(` ${this.mnt} `)) {
      // Anything mounted inside first (overlay stores on btrfs), then the image itself.
      unmountBelow(this.mnt);
      if (spawnSync("umount", [this.mnt]).status !== 0) spawnSync("umount", ["-l", this.mnt]);
    }
    if (this.loop) spawnSync("losetup", ["-d", this.loop]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Unmounts every mount at or below `dir`, deepest first. */
export function unmountBelow(dir: string): void {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    if (spawnSync("umount", [p]).status !== 0) spawnSync("umount", ["-l", p]);
  }
}

export function mountsBelow(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p && p.startsWith(`${dir}/`));
}
