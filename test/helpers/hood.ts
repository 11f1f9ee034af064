/** Helpers for tests that run the hood CLI (the bundled dist/hood.cjs) against the real kernel. */
import { type SpawnSyncOptions, spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BusyboxBundleOptions, makeBusyboxBundle } from "../../src/engine/busybox.ts";
import type { Spec } from "../../src/oci/runtime-spec.ts";

export const ROOT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HOOD = join(ROOT_DIR, "bin", "hood");

export const isRoot = process.getuid?.() === 0;
/** For `describe(..., { skip })`: a reason when the test cannot run here. */
export const needsRoot = isRoot ? false : "needs root";

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A scratch directory with a state root and a bundle, removed by cleanup(). */
export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "hood-test-"));
  readonly root = join(this.dir, "state");
  private n = 0;

  constructor() {
    // A user-namespaced container's root (say host uid 100000) must reach its rootfs.
    chmodSync(this.dir, 0o755);
  }

  /** A fresh busybox bundle; returns its directory. */
  bundle(o: BusyboxBundleOptions = {}): string {
    const dir = join(this.dir, `bundle-${this.n++}`);
    makeBusyboxBundle(dir, o);
    return dir;
  }

  id(prefix = "c"): string {
    return `${prefix}-${process.pid}-${this.n++}`;
  }

  /**
   * Runs `hood --root <root> ...args` and waits for it. Output goes to files, not pipes: a
   * detached container inherits hood's stdio and would hold a pipe open long after hood exits.
   */
  hood(args: string[], o: SpawnSyncOptions = {}): Result {
    return captured(this.dir, process.execPath, [HOOD, "--root", this.root, ...args], o);
  }

  /** Runs a bundle to completion with `hood run` and returns its output. */
  run(args: string[], edit?: (s: Spec) => void, o: SpawnSyncOptions = {}): Result {
    const bundle = this.bundle({ args, edit });
    return this.hood(["run", "--bundle", bundle, this.id()], o);
  }

  cleanup(): void {
    // Containers a failed test left behind: kill and delete them before removing the files.
    const list = this.hood(["list", "-q"]);
    for (const id of list.stdout.split("\n").filter(Boolean)) {
      this.hood(["delete", "--force", id]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let captures = 0;

/** spawnSync with stdout and stderr in files (see Sandbox.hood); extra stdio from o.stdio[3..]. */
function captured(dir: string, file: string, args: string[], o: SpawnSyncOptions): Result {
  const base = join(dir, `out-${process.pid}-${captures++}`);
  const out = openSync(`${base}.1`, "w+");
  const err = openSync(`${base}.2`, "w+");
  try {
    const extra = Array.isArray(o.stdio) ? o.stdio.slice(3) : [];
    const stdin = Array.isArray(o.stdio) ? o.stdio[0] : "ignore";
    const r = spawnSync(file, args, { timeout: 30_000, ...o, stdio: [stdin, out, err, ...extra] });
    if (r.error) throw r.error;
    return {
      status: r.status,
      stdout: readFileSync(`${base}.1`, "utf8"),
      stderr: readFileSync(`${base}.2`, "utf8"),
    };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(`${base}.1`, { force: true });
    rmSync(`${base}.2`, { force: true });
  }
}

/** Runs a reference tool (runc, crun) the same way, with its own state root. */
export function reference(
  tool: string,
  root: string,
  args: string[],
  o: SpawnSyncOptions = {},
): Result {
  return captured(tmpdir(), tool, ["--root", root, ...args], o);
}

/** Starts `hood` in the background (for run without --detach, exec, etc.). */
export function hoodAsync(root: string, args: string[]) {
  return spawn(process.execPath, [HOOD, "--root", root, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}
