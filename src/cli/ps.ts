import { cgroupPids } from "../linux/cgroups.ts";
import { bootTime, CLOCK_TICKS, processUid, readCmdline, readStat } from "../linux/proc.ts";
import { mustRead } from "../runtime/state.ts";
import { oneId, parse, within } from "./args.ts";
import { globals } from "./context.ts";
import { tabulate } from "./list.ts";
import { out } from "./output.ts";

function cpuTime(ticks: bigint): string {
  const s = Number(ticks) / CLOCK_TICKS;
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = Math.floor(s % 60);
  return [hh, mm, ss].map((n) => String(n).padStart(2, "0")).join(":");
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { format: { type: "string", short: "f", default: "table" } },
    "ps",
  );
  const id = oneId(positionals, "ps");
  return within(`ps ${id}`, async () => {
    const record = mustRead(globals.root, id);
    const pids = cgroupPids(record.cgroupPaths);
    if (values.format === "json") {
      out(`${JSON.stringify(pids)}\n`);
      return 0;
    }
    // ps -ef's columns, read from /proc rather than by running ps.
    const boot = bootTime();
    const rows = [["UID", "PID", "PPID", "STIME", "TIME", "CMD"]];
    for (const pid of pids) {
      const st = readStat(pid);
      if (!st) continue;
      const started = new Date((boot + Number(st.startTime) / CLOCK_TICKS) * 1000);
      const cmd = readCmdline(pid).join(" ") || `[${st.comm}]`;
      rows.push([
        String(processUid(pid) ?? "?"),
        String(pid),
        String(st.ppid),
        started.toISOString().slice(11, 16),
        cpuTime(st.utime + st.stime),
        cmd,
      ]);
    }
    out(tabulate(rows));
    return 0;
  });
}
