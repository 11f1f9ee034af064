/**
 * `hood spec [--bundle/-b DIR] [--rootless] [--no-seccomp]`: writes runc's starter config.json
 * into the bundle, plus hood's default seccomp profile; with --no-seccomp the same bytes
 * `runc spec` writes (tab-indented, no trailing newline, mode 0666 before the umask). Never
 * overwrites an existing config.json.
 */
import { type Stats, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { describeErrno, HoodError, syscallError } from "../errors.ts";
import { defaultSpec } from "../oci/defaults.ts";

/** statfs(2) f_type of a cgroup2 filesystem. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** runc adds a cgroup namespace to the default config when the host is cgroup v2 only. */
function isCgroup2Unified(): boolean {
  try {
    return statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

function stat(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    throw syscallError(`stat ${JSON.stringify(path)}`, e);
  }
}

function isDirectory(path: string): boolean {
  const st = stat(path);
  if (st === undefined) {
    throw new HoodError(`chdir ${JSON.stringify(path)}: ${describeErrno("ENOENT")}`, "ENOENT");
  }
  return st.isDirectory();
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        bundle: { type: "string", short: "b" },
        rootless: { type: "boolean" },
        "no-seccomp": { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new HoodError(`spec: ${(e as Error).message}`, "USAGE", { cause: e });
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 0) {
    throw new HoodError('"spec" requires exactly 0 argument(s)', "USAGE");
  }
  const bundle = values.bundle ?? "";
  if (bundle !== "" && !isDirectory(bundle)) {
    throw new HoodError(`chdir ${JSON.stringify(bundle)}: ${describeErrno("ENOTDIR")}`, "ENOTDIR");
  }
  const file = bundle === "" ? "config.json" : join(bundle, "config.json");
  const exists = () => new HoodError("File config.json exists. Remove it first", "EEXIST");
  if (stat(file) !== undefined) throw exists();
  const spec = defaultSpec({
    rootless: values.rootless === true,
    cgroupNamespace: isCgroup2Unified(),
  });
  if (values["no-seccomp"] !== true && spec.linux) {
    // hood's own addition to runc's starter config: its default seccomp profile, specialised
    // for the capabilities the config grants (as Docker does).
    const { defaultSeccomp } = await import("../seccomp/default-profile.ts");
    spec.linux.seccomp = defaultSeccomp({
      capabilities: spec.process?.capabilities?.bounding ?? [],
    }) as NonNullable<typeof spec.linux.seccomp>;
  }
  try {
    // "wx" (O_EXCL) also refuses a dangling symlink that stat() reported as missing.
    writeFileSync(file, JSON.stringify(spec, null, "\t"), { mode: 0o666, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw exists();
    throw syscallError(`write ${JSON.stringify(file)}`, e);
  }
  return 0;
}
