// Docker's default seccomp profile compiled by hood and by libseccomp 2.5 (as runc uses it:
// binary tree above 32 rules, and its plain priority order), side by side: program size,
// instructions executed per syscall over the x86_64 table (in hood's BPF interpreter) and
// compile time. Run: node --import tsx bench/seccomp.ts
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SECCOMP_RET } from "../src/seccomp/actions.ts";
import { findArch } from "../src/seccomp/arches.ts";
import type { Insn } from "../src/seccomp/bpf.ts";
import { decodeProgram } from "../src/seccomp/bpf.ts";
import { compileSeccomp, defaultSeccomp } from "../src/seccomp/index.ts";
import { simulate } from "../src/seccomp/simulate.ts";
import { buildHarness, harnessScript } from "../test/interop/seccomp/libseccomp.ts";

const DOCKER_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const x86_64 = findArch("x86_64")!;
const spec = defaultSeccomp({ capabilities: DOCKER_CAPS, arch: "x86_64" });
const arches = (spec.architectures ?? []).map((n) => findArch(n)!);

function execStats(prog: Insn[]) {
  let total = 0;
  let worst = 0;
  let n = 0;
  for (const nr of new Set(x86_64.syscalls.values())) {
    const r = simulate(prog, { nr, arch: x86_64.audit, args: [0n, 0n, 0n, 0n, 0n, 0n] }, "le");
    total += r.steps;
    worst = Math.max(worst, r.steps);
    n++;
  }
  return { mean: total / n, worst, n };
}

const runs = 50;
compileSeccomp(spec, { arch: "x86_64" });
const t0 = performance.now();
for (let i = 0; i < runs; i++) compileSeccomp(spec, { arch: "x86_64" });
const hoodMs = (performance.now() - t0) / runs;
const hood = compileSeccomp(spec, { arch: "x86_64" }).program;
const hoodPlain = compileSeccomp(spec, { arch: "x86_64", enosys: false }).program;

const built = buildHarness();
if (typeof built === "string") {
  process.stderr.write(`${built}\n`);
  process.exit(1);
}
const harness = built;
function libseccomp(optimize: number) {
  const script = harnessScript(spec, arches, { badArch: SECCOMP_RET.KILL_PROCESS, optimize });
  let ns = 0;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(harness.exe, [join(harness.dir, "o.bpf")], {
      input: script,
      encoding: "utf8",
      env: { ...process.env, HOOD_HARNESS_TIME: "1" },
    });
    ns += Number(/ns (\d+)/.exec(r.stderr)?.[1] ?? Number.NaN);
  }
  return {
    prog: decodeProgram(readFileSync(join(harness.dir, "o.bpf")), "le"),
    ms: ns / runs / 1e6,
  };
}
const tree = libseccomp(2);
const linear = libseccomp(0);
harness.close();

const rows: Array<[string, Insn[], number]> = [
  ["hood", hood, hoodMs],
  ["hood (no ENOSYS stub)", hoodPlain, hoodMs],
  ["libseccomp, binary tree (runc)", tree.prog, tree.ms],
  ["libseccomp, default order", linear.prog, linear.ms],
];
const stats = rows.map(([name, prog, ms]) => ({
  name,
  insns: prog.length,
  ms,
  ...execStats(prog),
}));
const line = (a: string, b: string, c: string, d: string, e: string) =>
  `${a.padEnd(32)}${b.padStart(8)}${c.padStart(10)}${d.padStart(8)}${e.padStart(12)}\n`;
process.stdout.write(
  `Docker's default profile, x86_64 + x86 + x32, ${stats[0]!.n} x86_64 syscalls\n`,
);
process.stdout.write(line("", "insns", "mean exec", "worst", "compile ms"));
for (const s of stats) {
  process.stdout.write(
    line(s.name, String(s.insns), s.mean.toFixed(2), String(s.worst), s.ms.toFixed(3)),
  );
}
const h = stats[0]!;
for (const s of stats.slice(2)) {
  process.stdout.write(
    `hood / ${s.name}: size ${(h.insns / s.insns).toFixed(2)}, mean executed ${(h.mean / s.mean).toFixed(2)}, worst ${(h.worst / s.worst).toFixed(2)}, compile time ${(h.ms / s.ms).toFixed(2)}\n`,
  );
}
process.stdout.write(
  `target hood mean <= libseccomp mean: ${h.mean <= Math.min(stats[2]!.mean, stats[3]!.mean) ? "met" : "NOT met"}\n`,
);
