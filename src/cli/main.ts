/**
 * `hood`: runc's command line. Global options come before the verb; each verb lives in its
 * own module, imported only when used so that a cold start stays small.
 */
import { HoodError } from "../errors.ts";
import { globals } from "./context.ts";
import { configureLog, log } from "./log.ts";
import { err, out } from "./output.ts";

type Verb = { main(argv: string[]): Promise<number> };

const VERBS: Record<string, () => Promise<Verb>> = {
  create: () => import("./create.ts"),
  start: () => import("./start.ts"),
  run: () => import("./run.ts"),
  state: () => import("./state.ts"),
  kill: () => import("./kill.ts"),
  delete: () => import("./delete.ts"),
  list: () => import("./list.ts"),
  ps: () => import("./ps.ts"),
  exec: () => import("./exec.ts"),
  pause: () => import("./pause.ts"),
  resume: () => import("./resume.ts"),
  update: () => import("./update.ts"),
  events: () => import("./events.ts"),
  spec: () => import("./spec.ts"),
  features: () => import("./features.ts"),
  demo: () => import("./demo.ts"),
  caps: () => import("./caps.ts"),
  mounts: () => import("./mounts.ts"),
  seccomp: () => import("./seccomp.ts"),
  "tar-split": () => import("./tar-split.ts"),
  storage: () => import("./storage.ts"),
};

const USAGE = `hood - a Linux container runtime (runc's command line)

usage: hood [global options] command [command options] [arguments...]

commands:
  create     create a container
  start      start a created container
  run        create and start a container, wait for it
  state      output the state of a container
  kill       send a signal to the container's init
  delete     delete a container and its resources
  list       list containers
  ps         list the processes of a container
  exec       run a new process inside a container
  pause      freeze every process of a container
  resume     thaw a paused container
  update     change the resources of a running container
  events     stream a container's stats and OOM events
  spec       write a default config.json
  features   show the runtime features
  demo       run a busybox container built from busybox-static
  caps       decode, encode and show capabilities (of a pid or a container)
  mounts     show the mount tree and propagation of a pid or a container
  seccomp    compile, disassemble, simulate and dump seccomp filters
  tar-split  disassemble and reassemble tar archives bit for bit (Go tar-split's CLI)
  storage    the layer store: import, export, create, diff, commit layers and rootfs

global options:
  --root DIR          state directory (default /run/hood)
  --log FILE          log file (default stderr)
  --log-format F      text or json
  --debug             debug logging
`;

/** Options runc accepts that hood takes and ignores, with whether they take a value. */
const IGNORED: Record<string, boolean> = {
  "--systemd-cgroup": false,
  "--criu": true,
  "--rootless": true,
};

export async function main(argv: string[]): Promise<number> {
  let logPath: string | undefined;
  let format: "text" | "json" = "text";
  let debug = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) break;
    const [name, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i] ?? "";
    switch (name) {
      case "--root":
        globals.root = value();
        break;
      case "--log":
        logPath = value();
        break;
      case "--log-format": {
        const f = value();
        if (f !== "text" && f !== "json") {
          err(`hood: invalid log format ${JSON.stringify(f)}: want text or json\n`);
          return 2;
        }
        format = f;
        break;
      }
      case "--debug":
        debug = true;
        break;
      case "-h":
      case "--help":
        out(USAGE);
        return 0;
      case "-v":
      case "--version":
        out("hood version 0.1.0\nspec: 1.2.0\n");
        return 0;
      default:
        if (name in IGNORED) {
          if (IGNORED[name] && inline === undefined) i++;
          break;
        }
        err(`hood: unknown global option ${arg}\n`);
        return 2;
    }
  }
  configureLog({ path: logPath, format, debug });
  const verb = argv[i];
  if (verb === undefined || verb === "help") {
    out(USAGE);
    return verb === undefined ? 2 : 0;
  }
  const load = VERBS[verb];
  if (!load) {
    log.error(`unknown command ${JSON.stringify(verb)}`);
    return 2;
  }
  try {
    const mod = await load();
    return await mod.main(argv.slice(i + 1));
  } catch (e) {
    if (e instanceof HoodError) {
      log.error(e.message);
      return 1;
    }
    log.error(`${verb}: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    err(`hood: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
