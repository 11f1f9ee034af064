/**
 * Scratch mounts on the host for mount tests: tmpfs instances with a chosen propagation,
 * unmounted (with everything that propagated into them) by cleanup().
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeBusyboxBundle } from "../../../src/engine/busybox.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";

/** Runs a host tool and throws with its stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error}`);
  return r.stdout;
}

export type HostPropagation = "shared" | "private" | "slave" | "unbindable";

export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), "hood-mounts-"));
  private mounts: string[] = [];

  constructor() {
    chmodSync(this.dir, 0o755);
  }

  /** A fresh tmpfs at dir/name, with the given propagation in the host's namespace. */
  tmpfs(name: string, propagation: HostPropagation): string {
    const path = join(this.dir, name);
    mkdirSync(path, { recursive: true });
    run("mount", ["-t", "tmpfs", "-o", "mode=755", `hood-test-${name}`, path]);
    this.mounts.push(path);
    run("mount", [`--make-${propagation}`, path]);
    return path;
  }

  /** A busybox bundle at path (inside one of the tmpfs or not). */
  bundle(path: string, args: string[], edit?: (s: Spec) => void): string {
    makeBusyboxBundle(path, { args, edit });
    return path;
  }

  cleanup(): void {
    for (const path of this.mounts.reverse()) {
      // Mounts that propagated in stack up: unmount until nothing is left.
      for (let i = 0; i < 16 && isMountPoint(path); i++) {
        spawnSync("umount", ["-R", "-l", path]);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function isMountPoint(path: string): boolean {
  return existsSync(path) && spawnSync("mountpoint", ["-q", path]).status === 0;
}

/** A capability set with CAP_SYS_ADMIN added, so the container may mount. */
export function withSysAdmin(s: Spec): void {
  const caps = s.process!.capabilities!;
  for (const set of ["bounding", "effective", "permitted"] as const) {
    caps[set] = [...(caps[set] ?? []), "CAP_SYS_ADMIN"];
  }
}
