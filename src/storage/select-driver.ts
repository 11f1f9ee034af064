/**
 * Which driver a store uses: the one recorded in its metadata, else `--storage-driver`, else
 * chosen from the backing filesystem (btrfs on btrfs, vfs where overlay cannot have its upper
 * dir, overlay everywhere else: ext4, xfs, tmpfs).
 */
import { existsSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { HoodError } from "../errors.ts";
import { DRIVER_NAMES, type Driver, type DriverContext, type DriverName } from "./driver.ts";
import { FS_MAGIC } from "./native.ts";

export function checkDriverName(name: string): DriverName {
  if (!(DRIVER_NAMES as readonly string[]).includes(name)) {
    throw new HoodError(
      `storage driver ${JSON.stringify(name)}: want one of ${DRIVER_NAMES.join(", ")}`,
      "USAGE",
    );
  }
  return name as DriverName;
}

/** The driver for a filesystem type (statfs f_type). */
export function driverForFilesystem(type: number): DriverName {
  if (type === FS_MAGIC.BTRFS) return "btrfs";
  // An overlay upper dir cannot be on overlayfs itself (a store inside a container).
  if (type === FS_MAGIC.OVERLAY) return "vfs";
  return "overlay";
}

/** The driver for a store at `root` (which need not exist yet: its nearest parent decides). */
export function detectDriver(root: string): DriverName {
  let p = root;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return driverForFilesystem(statfsSync(p).type);
}

/** The `name.key=value` options for one driver, with the prefix removed. */
export function optionsFor(name: DriverName, all: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith(`${name}.`)) out[k.slice(name.length + 1)] = v;
  }
  return out;
}

/** The driver's module is loaded only when it is used (lvmthin's loads child_process). */
export async function makeDriver(name: DriverName, ctx: DriverContext): Promise<Driver> {
  switch (name) {
    case "overlay":
      return new (await import("./drivers/overlay.ts")).OverlayDriver(ctx);
    case "btrfs":
      return new (await import("./drivers/btrfs.ts")).BtrfsDriver(ctx);
    case "lvmthin":
      return new (await import("./drivers/lvmthin.ts")).LvmThinDriver(ctx);
    case "vfs":
      return new (await import("./drivers/vfs.ts")).VfsDriver(ctx);
  }
}
