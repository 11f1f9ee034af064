/** Mount table look-ups and unmounting for the drivers. */
import { readFileSync } from "node:fs";
import { syscallError } from "../errors.ts";
import { MNT_DETACH, storageAddon } from "./native.ts";

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) =>
    String.fromCharCode(Number.parseInt(o, 8)),
  );
}

/** The mount points of this mount namespace. */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f.length > 4) out.add(unescapeMountinfo(f[4]!));
  }
  return out;
}

export function isMountPoint(path: string): boolean {
  return mountPoints().has(path);
}

/**
 * Unmounts `path` and anything stacked on it. A busy mount (a process still inside it) is
 * detached instead, so the name is free at once and the kernel frees it when unused.
 */
export function unmountAll(path: string): void {
  for (let i = 0; i < 64 && isMountPoint(path); i++) {
    try {
      storageAddon().umount2(path, 0);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EINVAL" || code === "ENOENT") return;
      if (code !== "EBUSY") throw syscallError(`unmount ${JSON.stringify(path)}`, e);
      try {
        storageAddon().umount2(path, MNT_DETACH);
      } catch (e2) {
        throw syscallError(`unmount ${JSON.stringify(path)}`, e2);
      }
    }
  }
}
