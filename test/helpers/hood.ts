/** Helpers for tests that run the hood CLI (the bundled dist/hood.mjs) against the real kernel. */
import { type SpawnSyncOptions, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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

  /** A fresh busybox bundle; returns its directory. */
  bundle(o: BusyboxBundleOptions = {}): string {
    const dir = join(this.dir, `bundle-${this.n++}`);
    makeBusyboxBundle(dir, o);
    return dir;
  }

  id(prefix = "c"): string {
    return `${prefix}-${process.pid}-${this.n++}`;
  }

  /** Runs `hood --root <root> ...args` and waits for it. */
  hood(args: string[], o: SpawnSyncOptions = {}): Result {
    const r = spawnSync(process.execPath, [HOOD, "--root", this.root, ...args], {
      encoding: "utf8",
      timeout: 30_000,
      ...o,
    });
    return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
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

/** Runs a reference tool (runc, crun) the same way, with its own state root. */
export function reference(
  tool: string,
  root: string,
  args: string[],
  o: SpawnSyncOptions = {},
): Result {
  const r = spawnSync(tool, ["--root", root, ...args], { encoding: "utf8", timeout: 30_000, ...o });
  return { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Starts `hood` in the background (for run without --detach, exec, etc.). */
export function hoodAsync(root: string, args: string[]) {
  return spawn(process.execPath, [HOOD, "--root", root, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}
