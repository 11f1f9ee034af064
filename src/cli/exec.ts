import { readFileSync } from "node:fs";
import { HoodError, syscallError } from "../errors.ts";
import type { Process } from "../oci/runtime-spec.ts";
import { writePidFile } from "../runtime/container.ts";
import { execProcess, lookup } from "../runtime/exec.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

/** runc's exec process: the container's process with the command line's overrides. */
function buildProcess(
  base: Process | undefined,
  v: Record<string, unknown>,
  args: string[],
): Process {
  if (typeof v.process === "string") {
    try {
      return JSON.parse(readFileSync(v.process, "utf8")) as Process;
    } catch (e) {
      throw syscallError(`read the process file ${JSON.stringify(v.process)}`, e);
    }
  }
  if (args.length === 0) throw new HoodError('exec: "exec" requires a command to run', "USAGE");
  const p: Process = structuredClone(base ?? { cwd: "/", user: { uid: 0, gid: 0 } });
  p.args = args;
  p.terminal = v.tty === true;
  p.env = [...(p.env ?? []), ...((v.env as string[] | undefined) ?? [])];
  if (typeof v.cwd === "string") p.cwd = v.cwd;
  if (typeof v.user === "string") {
    const [uid, gid] = v.user.split(":");
    p.user = { ...p.user, uid: Number(uid), gid: gid === undefined ? 0 : Number(gid) };
    if (!Number.isInteger(p.user.uid) || !Number.isInteger(p.user.gid)) {
      throw new HoodError(
        `exec: invalid --user ${JSON.stringify(v.user)}: want uid[:gid]`,
        "USAGE",
      );
    }
  }
  const gids = (v["additional-gids"] as string[] | undefined) ?? [];
  if (gids.length > 0) p.user.additionalGids = gids.map(Number);
  if (v["no-new-privs"] === true) p.noNewPrivileges = true;
  const caps = (v.cap as string[] | undefined) ?? [];
  if (caps.length > 0) {
    p.capabilities ??= {};
    for (const set of ["bounding", "effective", "permitted"] as const) {
      p.capabilities[set] = [...(p.capabilities[set] ?? []), ...caps];
    }
  }
  return p;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      "console-socket": { type: "string" },
      cwd: { type: "string" },
      env: { type: "string", short: "e", multiple: true },
      tty: { type: "boolean", short: "t", default: false },
      user: { type: "string", short: "u" },
      "additional-gids": { type: "string", short: "g", multiple: true },
      process: { type: "string", short: "p" },
      detach: { type: "boolean", short: "d", default: false },
      "pid-file": { type: "string" },
      "process-label": { type: "string" },
      apparmor: { type: "string" },
      "no-new-privs": { type: "boolean", default: false },
      cap: { type: "string", short: "c", multiple: true },
      "preserve-fds": { type: "string", default: "0" },
      cgroup: { type: "string", multiple: true },
      "ignore-paused": { type: "boolean", default: false },
    },
    "exec",
  );
  const id = oneId(positionals, "exec");
  const ctx = runtimeContext();
  return within(`exec ${id}`, async () => {
    const { record, spec } = lookup(ctx, id);
    const process = buildProcess(spec.process, values, positionals.slice(1));
    const p = await execProcess(ctx, record, spec, {
      process,
      consoleSocket: values["console-socket"] as string | undefined,
      preserveFds: Number(values["preserve-fds"]),
    });
    if (values["pid-file"]) writePidFile(values["pid-file"] as string, p.pid);
    if (values.detach) return 0;
    const st = await p.wait();
    return st.signal !== null ? 128 + st.signal : (st.code ?? 255);
  });
}
