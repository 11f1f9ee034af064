/**
 * `hood storage`: the layer store's command line.
 *   import-layer [--parent LAYER] FILE|-      export-layer LAYER [-o FILE]
 *   create NAME --layer LAYER [--no-mount]    diff NAME [-o FILE]       commit NAME
 *   mount NAME    unmount NAME    ls    inspect ID|NAME    rm ID|NAME...    prune    check
 * Options for every verb, before or after it: --storage-root DIR, --storage-driver NAME,
 * --storage-opt DRIVER.KEY=VALUE (repeatable), --json.
 */
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { fileChunks } from "../archive/file-source.ts";
import { HoodError, syscallError } from "../errors.ts";
import type { DriverName } from "../storage/driver.ts";
import { checkDriverName } from "../storage/select-driver.ts";
import { DEFAULT_STORAGE_ROOT, LayerStore } from "../storage/store.ts";
import { log } from "./log.ts";
import { err, out } from "./output.ts";

const USAGE = `usage: hood storage [options] COMMAND [arguments]

commands:
  import-layer [--parent LAYER] FILE|-   store a layer tar (plain, gzip or zstd); prints its ID
  export-layer LAYER [-o FILE]           the layer's original tar, byte for byte
  create NAME --layer LAYER [--no-mount] a writable rootfs on top of LAYER, mounted (unless
                                         --no-mount: mount it later); prints its path
  diff NAME [-o FILE]                    the rootfs's changes as an OCI layer tar
  commit NAME                            store those changes as a new layer; prints its ID
  mount NAME | unmount NAME              mount or unmount a rootfs
  ls                                     list layers and containers
  inspect ID|NAME                        show a layer or a container
  rm ID|NAME...                          remove containers; drop a reference to layers
  prune                                  delete unreferenced layers and leftovers
  check                                  report inconsistencies (exit 1 when any)

options (before or after the command):
  --storage-root DIR        the store (default ${DEFAULT_STORAGE_ROOT})
  --storage-driver NAME     overlay, btrfs, lvmthin or vfs (default: from the filesystem)
  --storage-opt K=V         driver options, e.g. lvmthin.thinpool=VG/POOL, btrfs.size=10G
  --json                    machine-readable output
`;

interface Globals {
  root: string;
  driver?: DriverName;
  options: Record<string, string>;
  json: boolean;
}

/** Takes the store options out of argv wherever they are; returns them and the rest. */
export function splitGlobals(argv: string[]): { globals: Globals; rest: string[] } {
  const g: Globals = { root: DEFAULT_STORAGE_ROOT, options: {}, json: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && name !== arg) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new HoodError(`storage: ${name} needs a value`, "USAGE");
      return v;
    };
    switch (name) {
      case "--storage-root":
        g.root = value();
        break;
      case "--storage-driver":
        g.driver = checkDriverName(value());
        break;
      case "--storage-opt": {
        const kv = value();
        const at = kv.indexOf("=");
        if (at <= 0) throw new HoodError(`storage: --storage-opt ${kv}: want KEY=VALUE`, "USAGE");
        g.options[kv.slice(0, at)] = kv.slice(at + 1);
        break;
      }
      case "--json":
        g.json = true;
        break;
      default:
        rest.push(arg);
    }
  }
  return { globals: g, rest };
}

function writeAllFd(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw e;
    }
  }
}

function readInput(name: string): AsyncGenerator<Buffer> {
  return fileChunks(name === "-" ? { fd: 0, name: "stdin" } : name);
}

/** Runs `produce` into FILE (removed again on failure) or stdout. */
async function toOutput(
  file: string | undefined,
  produce: (sink: (b: Buffer) => void) => Promise<void>,
) {
  if (!file || file === "-") {
    await produce((b) => writeAllFd(1, b));
    return;
  }
  let fd: number;
  try {
    fd = openSync(file, "w", 0o644);
  } catch (e) {
    throw syscallError(`create ${JSON.stringify(file)}`, e);
  }
  try {
    await produce((b) => writeAllFd(fd, b));
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {}
    throw e;
  }
  closeSync(fd);
}

function json(v: unknown): void {
  out(`${JSON.stringify(v, null, 2)}\n`);
}

function short(id: string): string {
  return id.slice(0, 12);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function humanSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

function oneArg(rest: string[], what: string, verb: string): string {
  if (rest.length !== 1) throw new HoodError(`storage ${verb}: give one ${what}`, "USAGE");
  return rest[0]!;
}

export async function main(argv: string[]): Promise<number> {
  const { globals: g, rest } = splitGlobals(argv);
  const [verb, ...args] = rest;
  if (verb === undefined || verb === "help" || verb === "--help" || verb === "-h") {
    out(USAGE);
    return verb === undefined ? 2 : 0;
  }
  const known = [
    "import-layer",
    "export-layer",
    "create",
    "diff",
    "commit",
    "mount",
    "unmount",
    "ls",
    "inspect",
    "rm",
    "prune",
    "check",
  ];
  if (!known.includes(verb)) {
    err(`hood storage: unknown command ${JSON.stringify(verb)}\n${USAGE}`);
    return 2;
  }
  const store = await LayerStore.open({
    root: g.root,
    driver: g.driver,
    options: g.options,
    warn: (m) => log.warn(m),
  });
  switch (verb) {
    case "import-layer": {
      const { values, positionals } = parseArgs({
        args,
        options: { parent: { type: "string" } },
        allowPositionals: true,
      });
      const file = oneArg(positionals, "layer file (or -)", verb);
      const r = await store.importLayer(readInput(file), values.parent);
      if (g.json) json({ ...r.layer, existed: r.existed });
      else out(`${r.layer.id}\n`);
      return 0;
    }
    case "export-layer": {
      const { values, positionals } = parseArgs({
        args,
        options: { output: { type: "string", short: "o" } },
        allowPositionals: true,
      });
      const ref = oneArg(positionals, "layer", verb);
      const layer = await toOutputResult(values.output, (sink) => store.exportLayer(ref, sink));
      if (g.json && values.output && values.output !== "-") json(layer);
      return 0;
    }
    case "create": {
      const { values, positionals } = parseArgs({
        args,
        options: { layer: { type: "string" }, "no-mount": { type: "boolean" } },
        allowPositionals: true,
      });
      const name = oneArg(positionals, "container name", verb);
      if (!values.layer) throw new HoodError("storage create: --layer LAYER is required", "USAGE");
      const c = await store.createContainer(name, values.layer, { mount: !values["no-mount"] });
      if (g.json) json(c);
      else out(`${c.path}\n`);
      return 0;
    }
    case "diff": {
      const { values, positionals } = parseArgs({
        args,
        options: { output: { type: "string", short: "o" } },
        allowPositionals: true,
      });
      const name = oneArg(positionals, "container", verb);
      const c = await toOutputResult(values.output, (sink) => store.diff(name, sink));
      if (g.json && values.output && values.output !== "-") json(c);
      return 0;
    }
    case "commit": {
      const name = oneArg(args, "container", verb);
      const r = await store.commit(name);
      if (g.json) json({ ...r.layer, existed: r.existed });
      else out(`${r.layer.id}\n`);
      return 0;
    }
    case "mount":
    case "unmount": {
      const name = oneArg(args, "container", verb);
      const c = verb === "mount" ? await store.mount(name) : await store.unmount(name);
      if (g.json) json(c);
      else if (verb === "mount") out(`${c.path}\n`);
      return 0;
    }
    case "ls": {
      if (args.length > 0) throw new HoodError("storage ls: takes no arguments", "USAGE");
      const layers = await store.listLayers();
      const containers = await store.listContainers();
      if (g.json) {
        json({ driver: store.driver.name, layers, containers });
        return 0;
      }
      const lrows = [["LAYER", "PARENT", "SIZE", "REFS", "CREATED"]];
      for (const l of layers) {
        lrows.push([
          short(l.id),
          l.parent ? short(l.parent) : "-",
          humanSize(l.size),
          String(l.refs),
          l.created,
        ]);
      }
      const crows = [["CONTAINER", "ID", "LAYER", "MOUNTED", "PATH"]];
      for (const c of containers) {
        crows.push([c.name, short(c.id), short(c.layer), c.mounted ? "yes" : "no", c.path]);
      }
      out(`${table(lrows)}\n\n${table(crows)}\n`);
      return 0;
    }
    case "inspect": {
      const ref = oneArg(args, "layer or container", verb);
      const r = await store.inspect(ref);
      json(
        r.kind === "layer"
          ? {
              kind: r.kind,
              ...r.layer,
              children: r.children,
              containers: r.containers,
              chain: r.chain,
            }
          : { kind: r.kind, ...r.container, chain: r.chain },
      );
      return 0;
    }
    case "rm": {
      if (args.length === 0)
        throw new HoodError("storage rm: give at least one layer or container", "USAGE");
      const results = [];
      let failed = 0;
      for (const ref of args) {
        try {
          const r = await store.remove(ref);
          results.push(r);
          if (!g.json) out(r.kept ? `${r.id} kept: ${r.kept}\n` : `${r.id}\n`);
        } catch (e) {
          if (!(e instanceof HoodError)) throw e;
          failed++;
          log.error(`storage rm ${ref}: ${e.message}`);
        }
      }
      if (g.json) json(results);
      return failed > 0 ? 1 : 0;
    }
    case "prune": {
      if (args.length > 0) throw new HoodError("storage prune: takes no arguments", "USAGE");
      const r = await store.prune();
      if (g.json) json(r);
      else {
        for (const id of r.layers) out(`deleted layer ${id}\n`);
        for (const o of r.orphans) out(`deleted leftover ${o}\n`);
      }
      return 0;
    }
    case "check": {
      const problems = await store.check();
      if (g.json) json({ problems, repairs: store.repairs });
      else for (const p of problems) out(`${p}\n`);
      return problems.length > 0 ? 1 : 0;
    }
  }
  return 2;
}

/** toOutput for a producer that also returns a value. */
async function toOutputResult<T>(
  file: string | undefined,
  produce: (sink: (b: Buffer) => void) => Promise<T>,
): Promise<T> {
  let result: T | undefined;
  await toOutput(file, async (sink) => {
    result = await produce(sink);
  });
  return result as T;
}
