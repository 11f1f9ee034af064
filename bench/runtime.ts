/**
 * hood vs runc vs crun on the same busybox bundle: `run` of /bin/true, and create, start,
 * delete separately, interleaved so that all three see the same machine; medians, ratios,
 * peak RSS of each runtime process, and 100 sequential runs.
 *
 *   node --import tsx bench/runtime.ts [--runs N] [--sequential N]
 *
 * Debian's crun refuses this host's hybrid cgroup layout, so crun runs inside a private mount
 * namespace in which /sys/fs/cgroup/unified/cgroup.controllers reads as empty (entered with
 * nsenter, whose own cost is measured and reported).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeBusyboxBundle } from "../src/engine/busybox.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    sequential: { type: "string", default: "100" },
  },
});
const RUNS = Number(values.runs);
const SEQUENTIAL = Number(values.sequential);
const HOOD = join(import.meta.dirname, "..", "bin", "hood");
const dir = mkdtempSync(join(tmpdir(), "hood-bench-"));
const bundle = join(dir, "bundle");
makeBusyboxBundle(bundle, { args: ["true"] });

/** Runs argv and returns [wall ms, peak RSS KiB of the process tree's biggest member]. */
const RUSAGE = `
import os, sys, time, resource
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    # A created container keeps its stdio: never let it hold the pipe we report on.
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
ms = (time.perf_counter() - t) * 1000
code = os.waitstatus_to_exitcode(status)
print(f"{ms} {ru.ru_maxrss} {code}")
`;
const rusageScript = join(dir, "rusage.py");
writeFileSync(rusageScript, RUSAGE);

interface Sample {
  ms: number;
  rssKiB: number;
}

function measure(argv: string[]): Sample {
  if (process.env.BENCH_DEBUG) console.error(argv.join(" "));
  const out = execFileSync("python3", [rusageScript, ...argv], { encoding: "utf8" }).trim();
  const [ms, rss, code] = out.split(" ").map(Number);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}`);
  return { ms: ms!, rssKiB: rss! };
}

// A private mount namespace for crun, held open by a sleeping process.
const empty = join(dir, "empty");
writeFileSync(empty, "");
const holder = spawn(
  "unshare",
  [
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers && echo ready && exec sleep 100000`,
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
const nsenter = ["nsenter", "-m", "-t", String(holder.pid)];

type Tool = { name: string; argv: (verb: string[]) => string[] };
const tools: Tool[] = [
  // As containerd and podman run it: the executable, whose shebang sets up Node (bin/hood).
  { name: "hood", argv: (v) => [HOOD, "--root", join(dir, "hood"), ...v] },
  { name: "runc", argv: (v) => ["runc", "--root", join(dir, "runc"), ...v] },
  { name: "crun", argv: (v) => [...nsenter, "crun", "--root", join(dir, "crun"), ...v] },
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const results: Record<string, Record<string, Sample[]>> = {};
const record = (tool: string, what: string, s: Sample) => {
  results[tool] ??= {};
  results[tool][what] ??= [];
  results[tool][what].push(s);
};

// Warm the page cache and each runtime once.
for (const t of tools) measure(t.argv(["run", "--bundle", bundle, `warm-${t.name}`]));
const nsenterCost = median(Array.from({ length: 10 }, () => measure([...nsenter, "true"]).ms));
// Node's own start is the floor of a cold CLI; this sandbox's NODE_EXTRA_CA_CERTS (if set)
// makes it parse a CA bundle at every start, so both are shown.
const nodeFloor = median(
  Array.from({ length: 10 }, () => measure([process.execPath, "-e", "0"]).ms),
);
const nodeBare = median(
  Array.from(
    { length: 10 },
    () => measure(["env", "-u", "NODE_EXTRA_CA_CERTS", process.execPath, "-e", "0"]).ms,
  ),
);

for (let i = 0; i < RUNS; i++) {
  for (const t of tools) {
    record(t.name, "run", measure(t.argv(["run", "--bundle", bundle, `r${i}-${t.name}`])));
    const id = `c${i}-${t.name}`;
    record(t.name, "create", measure(t.argv(["create", "--bundle", bundle, id])));
    record(t.name, "start", measure(t.argv(["start", id])));
    // Wait until the init has exited, then delete.
    for (let k = 0; k < 200; k++) {
      const st = spawnSync(t.argv(["state", id])[0]!, t.argv(["state", id]).slice(1), {
        encoding: "utf8",
      });
      if (st.stdout.includes('"stopped"')) break;
    }
    record(t.name, "delete", measure(t.argv(["delete", id])));
  }
}

const seqMs: Record<string, number> = {};
for (const t of tools) {
  const started = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) {
    const argv = t.argv(["run", "--bundle", bundle, `s${i}-${t.name}`]);
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore" });
    if (r.status !== 0) throw new Error(`${t.name} sequential run ${i} failed`);
  }
  seqMs[t.name] = performance.now() - started;
}

holder.kill("SIGKILL");
rmSync(dir, { recursive: true, force: true });

const line = (cells: string[]) => console.log(cells.map((c) => c.padEnd(14)).join(""));
console.log(
  `runs: ${RUNS} interleaved; crun times include nsenter (median ${nsenterCost.toFixed(1)} ms)\n`,
);
line(["median ms", "hood", "runc", "crun", "hood/runc", "hood/crun"]);
for (const what of ["run", "create", "start", "delete"]) {
  const m = Object.fromEntries(
    tools.map((t) => [t.name, median(results[t.name]![what]!.map((s) => s.ms))]),
  );
  line([
    what,
    m.hood!.toFixed(1),
    m.runc!.toFixed(1),
    m.crun!.toFixed(1),
    (m.hood! / m.runc!).toFixed(2),
    (m.hood! / m.crun!).toFixed(2),
  ]);
}
const rss = Object.fromEntries(
  tools.map((t) => [t.name, Math.max(...results[t.name]!.run!.map((s) => s.rssKiB)) / 1024]),
);
line([
  "peak RSS MB",
  rss.hood!.toFixed(1),
  rss.runc!.toFixed(1),
  rss.crun!.toFixed(1),
  (rss.hood! / rss.runc!).toFixed(2),
  (rss.hood! / rss.crun!).toFixed(2),
]);
line([
  `${SEQUENTIAL} runs s`,
  (seqMs.hood! / 1000).toFixed(2),
  (seqMs.runc! / 1000).toFixed(2),
  (seqMs.crun! / 1000).toFixed(2),
  (seqMs.hood! / seqMs.runc!).toFixed(2),
  (seqMs.hood! / seqMs.crun!).toFixed(2),
]);
const runcRun = median(results.runc!.run!.map((s) => s.ms));
console.log(
  `\nnode -e 0: ${nodeFloor.toFixed(1)} ms (${(nodeFloor / runcRun).toFixed(2)}x runc's run); without NODE_EXTRA_CA_CERTS: ${nodeBare.toFixed(1)} ms (${(nodeBare / runcRun).toFixed(2)}x)`,
);
console.log(
  `\ntargets: run hood/runc <= 1.5 (${(median(results.hood!.run!.map((s) => s.ms)) / median(results.runc!.run!.map((s) => s.ms))).toFixed(2)}), peak RSS <= 60 MB (${rss.hood!.toFixed(1)})`,
);
