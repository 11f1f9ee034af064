/**
 * The built-in default bundle: a busybox rootfs made from Debian's busybox-static, with the
 * config.json `hood spec` writes. Used by `hood demo`, the tests and the benchmarks.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HoodError } from "../errors.ts";
import { defaultSpec } from "../oci/defaults.ts";
import type { Spec } from "../oci/runtime-spec.ts";

export const BUSYBOX = "/bin/busybox";

export interface BusyboxBundleOptions {
  args?: string[];
  hostname?: string;
  /** Changes applied to the default spec before it is written. */
  edit?: (spec: Spec) => void;
}

/** Makes dir/rootfs (busybox and its applet links) and dir/config.json; returns the spec. */
export function makeBusyboxBundle(dir: string, o: BusyboxBundleOptions = {}): Spec {
  if (!existsSync(BUSYBOX)) {
    throw new HoodError(
      `make the busybox bundle: ${BUSYBOX} is missing; install it with \`apt-get install busybox-static\``,
      "ENOENT",
    );
  }
  const rootfs = join(dir, "rootfs");
  for (const d of ["bin", "proc", "sys", "dev", "etc", "tmp", "root", "var/run"]) {
    mkdirSync(join(rootfs, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
  // busybox is the rootfs's content, so asking it for its applets is not running a host tool.
  const applets = execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (const name of applets) {
    if (name === "busybox" || name.includes("/")) continue;
    const link = join(rootfs, "bin", name);
    if (!existsSync(link)) symlinkSync("busybox", link);
  }
  writeFileSync(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
  const spec = defaultSpec({ args: o.args ?? ["sh"] }) as Spec;
  if (spec.process) spec.process.terminal = false;
  if (o.hostname !== undefined) spec.hostname = o.hostname;
  o.edit?.(spec);
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(spec, null, 2)}\n`);
  return spec;
}
