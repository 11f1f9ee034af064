/** The rules of the `linux` section, except resources. */
import { at, type Checker, type Json, show } from "./checker.ts";
import { SECCOMP_ARCHES } from "./names.ts";
import type { RootfsPropagation, SeccompAction } from "./runtime-spec.ts";
import { NAMESPACE_TYPES } from "./runtime-spec.ts";
import { checkSysctl } from "./sysctl.ts";
import { absolutePath, type Context, cpuList, noNul } from "./validate-common.ts";
import { checkIdMappings } from "./validate-ids.ts";
import { checkResources } from "./validate-resources.ts";

export const LINUX_KEYS = [
  "uidMappings",
  "gidMappings",
  "timeOffsets",
  "sysctl",
  "resources",
  "cgroupsPath",
  "namespaces",
  "devices",
  "netDevices",
  "seccomp",
  "rootfsPropagation",
  "maskedPaths",
  "readonlyPaths",
  "mountLabel",
  "intelRdt",
  "memoryPolicy",
  "personality",
];

export function collectNamespaces(ctx: Context, v: unknown): void {
  const { c } = ctx;
  c.array("linux.namespaces", v, (p, item, index) => {
    const ns = c.object(p, item, true, ["type", "path"]);
    if (!ns) return;
    // An empty path means a new namespace, as in runc.
    const type = c.oneOf(at(p, "type"), ns.type, NAMESPACE_TYPES, true);
    const path = ns.path === "" ? undefined : absolutePath(c, at(p, "path"), ns.path);
    if (type === undefined) return;
    if (ctx.namespaces.has(type)) {
      c.problem(p, `malformed spec file: duplicated ns ${show(type)}`);
      return;
    }
    ctx.namespaces.set(type, path ? { path, index } : { index });
  });
}

export function checkLinux(ctx: Context, linux: Json): void {
  const { c } = ctx;
  checkUserNamespace(ctx, linux);
  checkTimeOffsets(ctx, linux.timeOffsets);
  checkSysctl(ctx, linux.sysctl);
  checkResources(c, linux.resources);
  c.string("linux.cgroupsPath", linux.cgroupsPath);
  checkDevices(c, linux.devices);
  checkNetDevices(ctx, linux.netDevices);
  checkSeccomp(c, linux.seccomp);
  // Go's omitempty makes "" the same as absent; runc reads it so.
  const propagation = linux.rootfsPropagation === "" ? undefined : linux.rootfsPropagation;
  c.oneOf<RootfsPropagation>("linux.rootfsPropagation", propagation, [
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "unbindable",
    "runbindable",
  ]);
  let restricts = false;
  for (const field of ["maskedPaths", "readonlyPaths"] as const) {
    c.array(at("linux", field), linux[field], (p, item) => {
      restricts = true;
      absolutePath(c, p, item, true);
    });
  }
  if (restricts && !ctx.namespaces.has("mount")) {
    c.problem("linux", "unable to restrict sys entries without a private MNT namespace");
  }
  c.string("linux.mountLabel", linux.mountLabel);
  checkIntelRdt(c, linux.intelRdt);
  checkMemoryPolicy(c, linux.memoryPolicy);
  const pers = c.object("linux.personality", linux.personality, false, ["domain", "flags"]);
  if (pers) {
    const domain = c.string("linux.personality.domain", pers.domain, true);
    if (domain !== undefined && domain !== "LINUX" && domain !== "LINUX32") {
      c.problem("linux.personality.domain", `invalid personality domain ${domain}`);
    }
    const flags = c.stringArray("linux.personality.flags", pers.flags);
    if (flags?.length) c.warn("linux.personality.flags", "personality flags are ignored");
  }
}

function checkUserNamespace(ctx: Context, linux: Json): void {
  const { c } = ctx;
  const uid = checkIdMappings(c, "linux.uidMappings", linux.uidMappings);
  const gid = checkIdMappings(c, "linux.gidMappings", linux.gidMappings);
  const hasMappings = linux.uidMappings !== undefined || linux.gidMappings !== undefined;
  const userns = ctx.namespaces.get("user");
  if (!userns) {
    if (hasMappings) {
      const where = linux.uidMappings !== undefined ? "linux.uidMappings" : "linux.gidMappings";
      c.problem(
        where,
        "user namespace mappings specified, but user namespace isn't enabled in the config",
      );
    }
    return;
  }
  const nsPath = at(at("linux.namespaces", userns.index), "path");
  if (userns.path !== undefined) {
    // containerd and CRI-O send both; runc accepts it when the mappings match the namespace.
    if (hasMappings) {
      c.warn(
        nsPath,
        "both a user namespace to join and mappings are given: the mappings must match it",
      );
    }
    return;
  }
  const p = at("linux.namespaces", userns.index);
  if (!hasMappings) {
    c.problem(
      p,
      "user namespaces enabled, but no namespace path to join nor mappings to apply specified",
    );
    return;
  }
  const kinds = [
    { field: "uidMappings", maps: uid, id: "uid", who: "user" },
    { field: "gidMappings", maps: gid, id: "gid", who: "group" },
  ] as const;
  for (const { field, maps, id, who } of kinds) {
    const path = at("linux", field);
    if (linux[field] === undefined || maps?.length === 0) {
      c.problem(path, `user namespaces enabled, but no ${id} mappings found`);
    } else if (maps && !maps.some((m) => m.containerID === 0)) {
      // runc creates the default devices owned by the container's root, so it must be mapped.
      c.problem(path, `user namespaces enabled, but no root ${who} mapping found`);
    }
  }
}

function checkTimeOffsets(ctx: Context, v: unknown): void {
  const { c } = ctx;
  const offsets = c.map("linux.timeOffsets", v, (p, clock, value) => {
    if (clock !== "monotonic" && clock !== "boottime") {
      c.problem(p, `unknown clock ${show(clock)}: must be monotonic or boottime`);
    }
    const o = c.object(p, value, true, ["secs", "nanosecs"]);
    if (!o) return;
    c.integer(at(p, "secs"), o.secs, "int64");
    c.ranged(at(p, "nanosecs"), o.nanosecs, "uint32", 0, 999_999_999);
  });
  if (!offsets) return;
  const timens = ctx.namespaces.get("time");
  if (!timens) {
    c.problem(
      "linux.timeOffsets",
      "time namespace offsets specified, but time namespace isn't enabled in the config",
    );
  } else if (timens.path !== undefined) {
    c.problem(
      "linux.timeOffsets",
      "time namespace enabled, but both namespace path and time offsets specified -- you may only provide one",
    );
  }
}

function checkDevices(c: Checker, v: unknown): void {
  const seen = new Map<string, string>();
  c.array("linux.devices", v, (p, item) => {
    const d = c.object(p, item, true, ["path", "type", "major", "minor", "fileMode", "uid", "gid"]);
    if (!d) return;
    const path = absolutePath(c, at(p, "path"), d.path, true);
    noNul(c, at(p, "path"), path);
    if (path !== undefined) {
      const first = seen.get(path);
      if (first !== undefined) c.warn(at(p, "path"), `same path as ${first}, which it replaces`);
      seen.set(path, p);
    }
    const type = c.string(at(p, "type"), d.type, true);
    if (type !== undefined && !["c", "b", "u", "p"].includes(type)) {
      c.problem(at(p, "type"), `invalid device type ${show(type)}`);
    }
    const needsNumbers = type !== "p";
    c.integer(at(p, "major"), d.major, "int64", needsNumbers);
    c.integer(at(p, "minor"), d.minor, "int64", needsNumbers);
    c.integer(at(p, "fileMode"), d.fileMode, "uint32");
    c.integer(at(p, "uid"), d.uid, "uint32");
    c.integer(at(p, "gid"), d.gid, "uint32");
  });
}

/** A Linux interface name, as dev_valid_name() accepts it. */
function validIfName(name: string): boolean {
  return (
    name.length > 0 && name.length < 16 && name !== "." && name !== ".." && !/[/:\s]/.test(name)
  );
}

function checkNetDevices(ctx: Context, v: unknown): void {
  const { c } = ctx;
  const names = new Map<string, string>();
  const devices = c.map("linux.netDevices", v, (p, host, value) => {
    if (!validIfName(host)) c.problem(p, `invalid network interface name ${show(host)}`);
    const d = c.object(p, value, true, ["name"]);
    if (!d) return;
    const name = c.string(at(p, "name"), d.name) ?? host;
    if (d.name !== undefined && !validIfName(name)) {
      c.problem(at(p, "name"), `invalid network interface name ${show(name)}`);
    }
    const first = names.get(name);
    if (first !== undefined) c.problem(p, `same name in the container as ${first}`);
    names.set(name, p);
  });
  if (devices && Object.keys(devices).length > 0 && !ctx.namespaces.has("network")) {
    c.problem("linux.netDevices", "unable to move network devices without a private NET namespace");
  }
}

const SECCOMP_ACTIONS: readonly SeccompAction[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];

function checkSeccomp(c: Checker, v: unknown): void {
  const p = "linux.seccomp";
  const s = c.object(p, v, false, [
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
  ]);
  if (!s) return;
  const def = c.oneOf(at(p, "defaultAction"), s.defaultAction, SECCOMP_ACTIONS, true);
  if (def === "SCMP_ACT_NOTIFY") {
    c.problem(at(p, "defaultAction"), "SCMP_ACT_NOTIFY cannot be used as default action");
  }
  c.integer(at(p, "defaultErrnoRet"), s.defaultErrnoRet, "uint32");
  c.array(at(p, "architectures"), s.architectures, (ap, a) => c.oneOf(ap, a, SECCOMP_ARCHES, true));
  c.array(at(p, "flags"), s.flags, (fp, f) =>
    c.oneOf(
      fp,
      f,
      [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
      ],
      true,
    ),
  );
  const listener =
    s.listenerPath === undefined
      ? undefined
      : absolutePath(c, at(p, "listenerPath"), s.listenerPath);
  c.string(at(p, "listenerMetadata"), s.listenerMetadata);
  let notifies = false;
  c.array(at(p, "syscalls"), s.syscalls, (sp, item) => {
    const sc = c.object(sp, item, true, ["names", "action", "errnoRet", "args"]);
    if (!sc) return;
    const names = c.stringArray(at(sp, "names"), sc.names, true);
    if (names?.length === 0) c.problem(at(sp, "names"), "must not be empty");
    if (c.oneOf(at(sp, "action"), sc.action, SECCOMP_ACTIONS, true) === "SCMP_ACT_NOTIFY") {
      notifies = true;
    }
    c.integer(at(sp, "errnoRet"), sc.errnoRet, "uint32");
    c.array(at(sp, "args"), sc.args, (ap, arg) => {
      const a = c.object(ap, arg, true, ["index", "value", "valueTwo", "op"]);
      if (!a) return;
      c.ranged(at(ap, "index"), a.index, "uint32", 0, 5, true);
      c.integer(at(ap, "value"), a.value, "uint64", true);
      c.integer(at(ap, "valueTwo"), a.valueTwo, "uint64");
      c.oneOf(
        at(ap, "op"),
        a.op,
        [
          "SCMP_CMP_NE",
          "SCMP_CMP_LT",
          "SCMP_CMP_LE",
          "SCMP_CMP_EQ",
          "SCMP_CMP_GE",
          "SCMP_CMP_GT",
          "SCMP_CMP_MASKED_EQ",
        ],
        true,
      );
    });
  });
  if (notifies && listener === undefined && s.listenerPath === undefined) {
    c.problem(at(p, "listenerPath"), "is required when an action is SCMP_ACT_NOTIFY");
  }
}

function checkIntelRdt(c: Checker, v: unknown): void {
  const p = "linux.intelRdt";
  const r = c.object(p, v, false, [
    "closID",
    "l3CacheSchema",
    "memBwSchema",
    "schemata",
    "enableCMT",
    "enableMBM",
    "enableMonitoring",
  ]);
  if (!r) return;
  const clos = c.string(at(p, "closID"), r.closID);
  if (clos !== undefined && (clos === "." || clos === ".." || clos.includes("/"))) {
    c.problem(at(p, "closID"), `invalid intelRdt.ClosID ${show(clos)}`);
  }
  c.string(at(p, "l3CacheSchema"), r.l3CacheSchema);
  c.string(at(p, "memBwSchema"), r.memBwSchema);
  c.stringArray(at(p, "schemata"), r.schemata);
  for (const flag of ["enableCMT", "enableMBM", "enableMonitoring"])
    c.boolean(at(p, flag), r[flag]);
}

function checkMemoryPolicy(c: Checker, v: unknown): void {
  const p = "linux.memoryPolicy";
  const m = c.object(p, v, false, ["mode", "nodes", "flags"]);
  if (!m) return;
  const mode = c.oneOf(
    at(p, "mode"),
    m.mode,
    [
      "MPOL_DEFAULT",
      "MPOL_BIND",
      "MPOL_INTERLEAVE",
      "MPOL_WEIGHTED_INTERLEAVE",
      "MPOL_PREFERRED",
      "MPOL_PREFERRED_MANY",
      "MPOL_LOCAL",
    ],
    true,
  );
  cpuList(c, at(p, "nodes"), m.nodes, true);
  c.array(at(p, "flags"), m.flags, (fp, f) =>
    c.oneOf(fp, f, ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"], true),
  );
  const needsNodes =
    mode === "MPOL_BIND" ||
    mode === "MPOL_INTERLEAVE" ||
    mode === "MPOL_WEIGHTED_INTERLEAVE" ||
    mode === "MPOL_PREFERRED_MANY";
  if (needsNodes && !m.nodes) c.problem(at(p, "nodes"), `is required with mode ${mode}`);
  if ((mode === "MPOL_DEFAULT" || mode === "MPOL_LOCAL") && m.nodes) {
    c.problem(at(p, "nodes"), `must be empty with mode ${mode}`);
  }
}
