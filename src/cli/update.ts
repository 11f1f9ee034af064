import { readFileSync } from "node:fs";
import { HoodError } from "../errors.ts";
import type { LinuxResources } from "../oci/runtime-spec.ts";
import { update, validateResources } from "../runtime/update.ts";
import { oneId, parse, within } from "./args.ts";
import { runtimeContext } from "./context.ts";

const RAM_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** "512m", "1.5g", "1048576": binary units, as docker's RAMInBytes (and so runc) reads them. */
export function parseRam(text: string): number {
  if (text === "-1") return -1;
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(text);
  if (!m) throw new HoodError(`update: invalid size: ${JSON.stringify(text)}`, "USAGE");
  return Math.trunc(Number(m[1]) * (RAM_UNITS[(m[2] ?? "").toLowerCase()] ?? 1));
}

function integer(flag: string, text: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(text)) {
    throw new HoodError(
      `update: invalid value ${JSON.stringify(text)} for flag --${flag}`,
      "USAGE",
    );
  }
  return Number(text);
}

/** runc update's flags as a LinuxResources holding only what was given. */
export function resourcesFromFlags(
  v: Record<string, string | boolean | undefined>,
): LinuxResources {
  const r: LinuxResources = {};
  const s = (k: string) => {
    const x = v[k];
    return typeof x === "string" && x !== "" ? x : undefined;
  };
  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  const memory: NonNullable<LinuxResources["memory"]> = {};
  const w = s("blkio-weight");
  if (w !== undefined && integer("blkio-weight", w, true) !== 0) {
    r.blockIO = { weight: integer("blkio-weight", w, true) };
  }
  if (s("cpuset-cpus")) cpu.cpus = s("cpuset-cpus");
  if (s("cpuset-mems")) cpu.mems = s("cpuset-mems");
  for (const [flag, key] of [
    ["cpu-period", "period"],
    ["cpu-rt-period", "realtimePeriod"],
    ["cpu-share", "shares"],
    ["cpu-burst", "burst"],
  ] as const) {
    const x = s(flag);
    if (x !== undefined) cpu[key] = integer(flag, x, true);
  }
  for (const [flag, key] of [
    ["cpu-quota", "quota"],
    ["cpu-rt-runtime", "realtimeRuntime"],
    ["cpu-idle", "idle"],
  ] as const) {
    const x = s(flag);
    if (x !== undefined) cpu[key] = integer(flag, x, false);
  }
  for (const [flag, key] of [
    ["memory", "limit"],
    ["memory-swap", "swap"],
    ["kernel-memory", "kernel"],
    ["kernel-memory-tcp", "kernelTCP"],
    ["memory-reservation", "reservation"],
  ] as const) {
    const x = s(flag);
    if (x !== undefined) memory[key] = parseRam(x);
  }
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  if (Object.keys(memory).length > 0) r.memory = memory;
  const pids = s("pids-limit");
  if (pids !== undefined && integer("pids-limit", pids, false) !== 0) {
    r.pids = { limit: integer("pids-limit", pids, false) };
  }
  return r;
}

export async function main(argv: string[]): Promise<number> {
  const flags = {
    resources: { type: "string", short: "r" },
    "blkio-weight": { type: "string" },
    "cpu-period": { type: "string" },
    "cpu-quota": { type: "string" },
    "cpu-share": { type: "string" },
    "cpu-rt-period": { type: "string" },
    "cpu-rt-runtime": { type: "string" },
    "cpu-burst": { type: "string" },
    "cpu-idle": { type: "string" },
    "cpuset-cpus": { type: "string" },
    "cpuset-mems": { type: "string" },
    "kernel-memory": { type: "string" },
    "kernel-memory-tcp": { type: "string" },
    memory: { type: "string" },
    "memory-reservation": { type: "string" },
    "memory-swap": { type: "string" },
    "pids-limit": { type: "string" },
    "l3-cache-schema": { type: "string" },
    "mem-bw-schema": { type: "string" },
  } as const;
  const { values, positionals } = parse(argv, flags, "update");
  const id = oneId(positionals, "update");
  return within(`update ${id}`, async () => {
    if (values["l3-cache-schema"] !== undefined || values["mem-bw-schema"] !== undefined) {
      throw new HoodError("Intel RDT is not supported by hood", "ENOTSUP");
    }
    let changes: LinuxResources;
    const file = values.resources;
    if (file !== undefined) {
      let text: string;
      try {
        text = readFileSync(file === "-" ? 0 : file, "utf8");
      } catch (e) {
        throw new HoodError(
          `read the resources ${JSON.stringify(file)}: ${(e as Error).message}`,
          "EIO",
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new HoodError(
          `parse the resources ${JSON.stringify(file)}: ${(e as Error).message}`,
          "INVALID_SPEC",
        );
      }
      changes = validateResources(json);
    } else {
      changes = validateResources(resourcesFromFlags(values));
    }
    await update(runtimeContext(), id, changes);
    return 0;
  });
}
