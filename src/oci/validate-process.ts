/** The rules of `process` (also `exec --process`). */
import { at, type Checker, type Json, show } from "./checker.ts";
import { RLIMIT_NAMES } from "./names.ts";
import type { CapabilitySet } from "./runtime-spec.ts";
import { absolutePath, type Context, cpuList } from "./validate-common.ts";

export const PROCESS_KEYS = [
  "terminal",
  "consoleSize",
  "user",
  "args",
  "commandLine",
  "env",
  "cwd",
  "capabilities",
  "rlimits",
  "noNewPrivileges",
  "apparmorProfile",
  "oomScoreAdj",
  "scheduler",
  "selinuxLabel",
  "ioPriority",
  "execCPUAffinity",
];

const CAPABILITY_SETS: readonly CapabilitySet[] = [
  "bounding",
  "effective",
  "inheritable",
  "permitted",
  "ambient",
];

const CAPABILITY_NAME = /^CAP_[A-Z_]+$/;

export function checkProcess(ctx: Context, proc: Json): void {
  const { c } = ctx;
  const terminal = c.boolean("process.terminal", proc.terminal);
  const box = c.object("process.consoleSize", proc.consoleSize, false, ["height", "width"]);
  if (box) {
    c.integer("process.consoleSize.height", box.height, "uint32", true);
    c.integer("process.consoleSize.width", box.width, "uint32", true);
    if (terminal !== true) c.problem("process.consoleSize", "requires process.terminal to be true");
  }

  checkUser(c, proc);

  const args = c.stringArray("process.args", proc.args);
  if (proc.args === undefined || args?.length === 0) c.problem("process.args", "must not be empty");
  c.string("process.commandLine", proc.commandLine);

  c.array("process.env", proc.env, (p, item) => {
    const kv = c.string(p, item, true);
    if (kv === undefined) return;
    const eq = kv.indexOf("=");
    if (eq < 0) c.problem(p, `invalid environment variable: ${show(kv)}`);
    else if (eq === 0) c.problem(p, `environment variable name can't be empty: ${show(kv)}`);
    else if (kv.includes("\0")) c.problem(p, "environment variable can't contain a null byte");
  });

  if (proc.cwd === undefined || proc.cwd === "") c.problem("process.cwd", "must not be empty");
  else absolutePath(c, "process.cwd", proc.cwd);

  const caps = c.object("process.capabilities", proc.capabilities, false, CAPABILITY_SETS);
  if (caps) {
    for (const set of CAPABILITY_SETS) {
      c.array(at("process.capabilities", set), caps[set], (p, item) => {
        const name = c.string(p, item, true);
        if (name === undefined) return;
        if (!CAPABILITY_NAME.test(name)) c.problem(p, `invalid capability name ${show(name)}`);
        else if (!ctx.knownCapabilities.has(name)) {
          c.warn(p, `unknown or unavailable capability ${show(name)}, ignored`);
        }
      });
    }
  }

  checkRlimits(c, proc.rlimits);
  c.boolean("process.noNewPrivileges", proc.noNewPrivileges);
  c.string("process.apparmorProfile", proc.apparmorProfile);
  c.ranged("process.oomScoreAdj", proc.oomScoreAdj, "int32", -1000, 1000);
  checkScheduler(c, proc.scheduler);
  c.string("process.selinuxLabel", proc.selinuxLabel);

  const io = c.object("process.ioPriority", proc.ioPriority, false, ["class", "priority"]);
  if (io) {
    c.oneOf(
      "process.ioPriority.class",
      io.class,
      ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"],
      true,
    );
    c.ranged("process.ioPriority.priority", io.priority, "int32", 0, 7, true);
  }

  const affinity = c.object("process.execCPUAffinity", proc.execCPUAffinity, false, [
    "initial",
    "final",
  ]);
  if (affinity) {
    cpuList(c, "process.execCPUAffinity.initial", affinity.initial, false);
    cpuList(c, "process.execCPUAffinity.final", affinity.final, false);
  }
}

function checkUser(c: Checker, proc: Json): void {
  const keys = ["uid", "gid", "umask", "additionalGids", "username"];
  if (proc.user === undefined) {
    // runc runs a config without a user as root; keep that, but say it.
    c.warn("process.user", "missing, taken as uid 0 and gid 0");
    proc.user = { uid: 0, gid: 0 };
    return;
  }
  const user = c.object("process.user", proc.user, true, keys);
  if (!user) return;
  for (const id of ["uid", "gid"] as const) {
    if (user[id] === undefined) {
      c.warn(at("process.user", id), "missing, taken as 0");
      user[id] = 0;
    }
    c.integer(at("process.user", id), user[id], "uint32", true);
  }
  c.integer("process.user.umask", user.umask, "uint32");
  c.array("process.user.additionalGids", user.additionalGids, (p, gid) =>
    c.integer(p, gid, "uint32", true),
  );
  c.string("process.user.username", user.username);
}

function checkRlimits(c: Checker, v: unknown): void {
  const seen = new Map<string, string>();
  c.array("process.rlimits", v, (p, item) => {
    const r = c.object(p, item, true, ["type", "hard", "soft"]);
    if (!r) return;
    const type = c.string(at(p, "type"), r.type, true);
    const hard = c.integer(at(p, "hard"), r.hard, "uint64", true);
    const soft = c.integer(at(p, "soft"), r.soft, "uint64", true);
    if (type !== undefined) {
      if (!RLIMIT_NAMES.includes(type)) c.problem(at(p, "type"), `wrong rlimit value: ${type}`);
      const first = seen.get(type);
      if (first !== undefined)
        c.problem(at(p, "type"), `duplicated rlimit ${type} (also ${first})`);
      else seen.set(type, p);
    }
    if (hard !== undefined && soft !== undefined && soft > hard) {
      c.problem(p, `soft limit ${soft} is above hard limit ${hard}`);
    }
  });
}

const SCHED_POLICIES = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
] as const;

const SCHED_FLAGS = [
  "SCHED_FLAG_RESET_ON_FORK",
  "SCHED_FLAG_RECLAIM",
  "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",
  "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX",
] as const;

function checkScheduler(c: Checker, v: unknown): void {
  const p = "process.scheduler";
  const s = c.object(p, v, false, [
    "policy",
    "nice",
    "priority",
    "flags",
    "runtime",
    "deadline",
    "period",
  ]);
  if (!s) return;
  if (s.policy === undefined || s.policy === "") {
    c.problem(at(p, "policy"), "scheduler policy is required");
  }
  const policy = s.policy === "" ? undefined : c.oneOf(at(p, "policy"), s.policy, SCHED_POLICIES);
  const nice = c.integer(at(p, "nice"), s.nice, "int32");
  const priority = c.integer(at(p, "priority"), s.priority, "int32");
  c.array(at(p, "flags"), s.flags, (fp, f) => c.oneOf(fp, f, SCHED_FLAGS, true));
  const runtime = c.integer(at(p, "runtime"), s.runtime, "uint64");
  const deadline = c.integer(at(p, "deadline"), s.deadline, "uint64");
  const period = c.integer(at(p, "period"), s.period, "uint64");
  if (policy === undefined) return;
  if ((policy === "SCHED_OTHER" || policy === "SCHED_BATCH") && nice !== undefined) {
    if (nice < -20 || nice > 19) {
      c.problem(
        at(p, "nice"),
        `invalid scheduler.nice: ${nice} when scheduler.policy is ${policy}`,
      );
    }
  }
  if (priority && policy !== "SCHED_FIFO" && policy !== "SCHED_RR") {
    c.problem(
      at(p, "priority"),
      "scheduler.priority can only be specified for SchedFIFO or SchedRR policy",
    );
  }
  if (policy !== "SCHED_DEADLINE" && (runtime || deadline || period)) {
    c.problem(
      p,
      "scheduler runtime/deadline/period can only be specified for SchedDeadline policy",
    );
  }
}
