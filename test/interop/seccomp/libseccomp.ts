/**
 * Builds filters with libseccomp through harness.c, from the same profile hood compiles,
 * applying the profile the way runc does (rules equal to the default action dropped, several
 * conditions on one argument split into separate rules).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { actionValue } from "../../../src/seccomp/actions.ts";
import type { Arch } from "../../../src/seccomp/arches.ts";
import { decodeProgram, type Insn } from "../../../src/seccomp/bpf.ts";
import { toBig } from "../../../src/seccomp/plan.ts";
import type { SeccompSpec } from "../../../src/seccomp/profile.ts";

const here = dirname(fileURLToPath(import.meta.url));

const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

export interface Harness {
  exe: string;
  dir: string;
  close(): void;
}

/** Compiles harness.c, or returns the reason it cannot (no cc, no libseccomp-dev). */
export function buildHarness(): Harness | string {
  const dir = mkdtempSync(join(tmpdir(), "hood-seccomp-harness-"));
  const exe = join(dir, "harness");
  const r = spawnSync("cc", ["-O1", "-o", exe, join(here, "harness.c"), "-lseccomp"], {
    encoding: "utf8",
  });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot build the libseccomp harness: ${r.error?.message ?? r.stderr}`;
  }
  return { exe, dir, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The harness script for a profile over the given ABIs (arches[0] plays the native one). */
export function harnessScript(
  spec: SeccompSpec,
  arches: Arch[],
  opts: { badArch: number; optimize?: number },
): string {
  const lines: string[] = [];
  const dflt = actionValue(spec.defaultAction, spec.defaultErrnoRet);
  lines.push(`default ${dflt}`, `badarch ${opts.badArch}`);
  if (opts.optimize) lines.push(`optimize ${opts.optimize}`);
  // libseccomp refuses to mix byte orders; the caller only passes ABIs of one.
  for (const a of arches) lines.push(`arch ${archToken(a)}`);
  for (const s of spec.syscalls ?? []) {
    const action = actionValue(s.action, s.errnoRet);
    if (action === dflt) continue;
    const args = s.args ?? [];
    const dup = new Set(args.map((a) => a.index)).size !== args.length;
    const groups = dup ? args.map((a) => [a]) : [args];
    for (const name of s.names) {
      for (const g of groups) {
        const conds = g.map(
          (a) => `${a.index} ${OPS[a.op]} ${toBig(a.value)} ${toBig(a.valueTwo)}`,
        );
        lines.push(`rule ${action} ${name} ${g.length} ${conds.join(" ")}`.trimEnd());
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

/** SCMP_ARCH_* token: the AUDIT_ARCH value, except x32's made-up one. */
function archToken(a: Arch): number {
  return a.name === "x32" ? 62 | 0x40000000 : a.audit;
}

/**
 * libseccomp's BPF for a script, or the reason there is none: 2.5.4 can loop for a very long
 * time merging some mixes of conditional rules, and refuses some others (EINVAL, EEXIST).
 */
export function libseccompProgram(
  h: Harness,
  script: string,
  arch: Arch,
  timeoutMs = 3000,
): Insn[] | string {
  const out = join(h.dir, "out.bpf");
  const r = spawnSync(h.exe, [out], { input: script, encoding: "utf8", timeout: timeoutMs });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT") return "timeout";
  if (r.status !== 0) {
    const line = Number(/^line (\d+)/.exec(r.stderr)?.[1] ?? 0);
    return `refused: ${r.stderr.trim()}: ${script.split("\n")[line - 1]}`;
  }
  // seccomp_export_bpf writes in the filter's byte order.
  return decodeProgram(readFileSync(out), arch.endian);
}
