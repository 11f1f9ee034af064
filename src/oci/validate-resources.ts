/** The rules of `linux.resources`. */
import { at, type Checker, show } from "./checker.ts";
import { cpuList } from "./validate-common.ts";

export function checkResources(c: Checker, v: unknown): void {
  const p = "linux.resources";
  const r = c.object(p, v, false, [
    "devices",
    "memory",
    "cpu",
    "pids",
    "blockIO",
    "hugepageLimits",
    "network",
    "rdma",
    "unified",
  ]);
  if (!r) return;

  c.array(at(p, "devices"), r.devices, (dp, item, i) => {
    const d = c.object(dp, item, true, ["allow", "type", "major", "minor", "access"]);
    if (!d) return;
    c.boolean(at(dp, "allow"), d.allow, true);
    // An empty type means "a", as in runc.
    c.oneOf(at(dp, "type"), d.type, ["", "a", "b", "c"]);
    c.integer(at(dp, "major"), d.major, "int64");
    c.integer(at(dp, "minor"), d.minor, "int64");
    const access = c.string(at(dp, "access"), d.access);
    if (access === undefined || access === "") {
      if (d.access === undefined || access === "") {
        c.problem(at(dp, "access"), `device access at ${i} field cannot be empty`);
      }
    } else if (!/^[rwm]+$/.test(access)) {
      c.problem(at(dp, "access"), `must be made of r, w and m, got ${show(access)}`);
    }
  });

  const memP = at(p, "memory");
  const mem = c.object(memP, r.memory, false, [
    "limit",
    "reservation",
    "swap",
    "kernel",
    "kernelTCP",
    "swappiness",
    "disableOOMKiller",
    "useHierarchy",
    "checkBeforeUpdate",
  ]);
  if (mem) {
    for (const f of ["limit", "reservation", "swap", "kernel", "kernelTCP"]) {
      c.integer(at(memP, f), mem[f], "int64");
    }
    if (mem.kernel !== undefined || mem.kernelTCP !== undefined) {
      c.warn(memP, "kernel memory settings are ignored");
    }
    const swappiness = c.integer(at(memP, "swappiness"), mem.swappiness, "uint64");
    if (swappiness !== undefined && swappiness > 100) {
      c.problem(
        at(memP, "swappiness"),
        `invalid value:${swappiness}. valid memory swappiness range is 0-100`,
      );
    }
    for (const f of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) {
      c.boolean(at(memP, f), mem[f]);
    }
  }

  const cpuP = at(p, "cpu");
  const cpu = c.object(cpuP, r.cpu, false, [
    "shares",
    "quota",
    "burst",
    "period",
    "realtimeRuntime",
    "realtimePeriod",
    "cpus",
    "mems",
    "idle",
  ]);
  if (cpu) {
    for (const f of ["shares", "burst", "period", "realtimePeriod"]) {
      c.integer(at(cpuP, f), cpu[f], "uint64");
    }
    for (const f of ["quota", "realtimeRuntime", "idle"]) c.integer(at(cpuP, f), cpu[f], "int64");
    cpuList(c, at(cpuP, "cpus"), cpu.cpus, true);
    cpuList(c, at(cpuP, "mems"), cpu.mems, true);
  }

  const pids = c.object(at(p, "pids"), r.pids, false, ["limit"]);
  if (pids) c.integer(at(at(p, "pids"), "limit"), pids.limit, "int64");

  checkBlockIO(c, at(p, "blockIO"), r.blockIO);

  c.array(at(p, "hugepageLimits"), r.hugepageLimits, (hp, item) => {
    const h = c.object(hp, item, true, ["pageSize", "limit"]);
    if (!h) return;
    const size = c.string(at(hp, "pageSize"), h.pageSize, true);
    if (size !== undefined && !/^[1-9][0-9]*[KMG]B$/.test(size)) {
      c.problem(at(hp, "pageSize"), `must be a size such as "2MB", got ${show(size)}`);
    }
    c.integer(at(hp, "limit"), h.limit, "uint64", true);
  });

  const netP = at(p, "network");
  const net = c.object(netP, r.network, false, ["classID", "priorities"]);
  if (net) {
    c.integer(at(netP, "classID"), net.classID, "uint32");
    c.array(at(netP, "priorities"), net.priorities, (pp, item) => {
      const prio = c.object(pp, item, true, ["name", "priority"]);
      if (!prio) return;
      c.string(at(pp, "name"), prio.name, true);
      c.integer(at(pp, "priority"), prio.priority, "uint32", true);
    });
  }

  c.map(at(p, "rdma"), r.rdma, (rp, _device, value) => {
    const limits = c.object(rp, value, true, ["hcaHandles", "hcaObjects"]);
    if (!limits) return;
    c.integer(at(rp, "hcaHandles"), limits.hcaHandles, "uint32");
    c.integer(at(rp, "hcaObjects"), limits.hcaObjects, "uint32");
  });

  c.map(at(p, "unified"), r.unified, (up, key, value) => {
    c.string(up, value, true);
    if (key === "" || key === "." || key === ".." || key.includes("/") || key.includes("\0")) {
      c.problem(up, `unified resource ${show(key)} must be a file name (no slashes)`);
    }
  });
}

function checkBlockIO(c: Checker, p: string, v: unknown): void {
  const throttles = [
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice",
  ];
  const b = c.object(p, v, false, ["weight", "leafWeight", "weightDevice", ...throttles]);
  if (!b) return;
  c.ranged(at(p, "weight"), b.weight, "uint16", 10, 1000);
  c.ranged(at(p, "leafWeight"), b.leafWeight, "uint16", 10, 1000);
  c.array(at(p, "weightDevice"), b.weightDevice, (wp, item) => {
    const w = c.object(wp, item, true, ["major", "minor", "weight", "leafWeight"]);
    if (!w) return;
    c.integer(at(wp, "major"), w.major, "int64", true);
    c.integer(at(wp, "minor"), w.minor, "int64", true);
    c.ranged(at(wp, "weight"), w.weight, "uint16", 10, 1000);
    c.ranged(at(wp, "leafWeight"), w.leafWeight, "uint16", 10, 1000);
  });
  for (const field of throttles) {
    c.array(at(p, field), b[field], (tp, item) => {
      const t = c.object(tp, item, true, ["major", "minor", "rate"]);
      if (!t) return;
      c.integer(at(tp, "major"), t.major, "int64", true);
      c.integer(at(tp, "minor"), t.minor, "int64", true);
      c.integer(at(tp, "rate"), t.rate, "uint64", true);
    });
  }
}
