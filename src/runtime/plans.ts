/**
 * Turns the security parts of a process (capabilities, seccomp) into what the setup program
 * needs, reporting warnings through the caller.
 */

import { readFileSync } from "node:fs";
import { HoodError } from "../errors.ts";
import { lastCap, parseProcStatus, planCapabilities } from "../linux/capabilities.ts";
import type { Process, Spec } from "../oci/runtime-spec.ts";
import type { SeccompPlan } from "../setup/compile.ts";
import type { CapabilityPlan } from "../setup/process.ts";

export function capabilityPlan(process: Process, warn: (m: string) => void): CapabilityPlan | null {
  // Without a capabilities object runc leaves the capabilities as they are; so does hood.
  if (!process.capabilities) return null;
  const user = process.user ?? { uid: 0, gid: 0 };
  // hood can only hand out what it holds itself (a sandboxed host may lack some caps): those
  // are skipped with a warning, as the runtime-spec allows.
  const self = parseProcStatus(readFileSync("/proc/self/status", "utf8"));
  const plan = planCapabilities(process.capabilities, {
    lastCap: lastCap(),
    changesUid: user.uid !== 0,
    holder: { bounding: self.bounding, permitted: self.permitted },
  });
  if (plan.problems.length > 0) {
    throw new HoodError(
      `invalid capabilities:\n${plan.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
      "INVALID_SPEC",
    );
  }
  for (const w of plan.warnings) warn(w);
  return plan;
}

export type SeccompCompiler = (
  seccomp: unknown,
  opts: { capabilities?: string[] },
) => { filter: Buffer; flags: number; warnings: string[]; listenerPath?: string };

let seccompCompiler: SeccompCompiler | null = null;

/** The seccomp compiler is loaded lazily: most commands never need it. */
export async function seccompPlan(
  spec: Spec,
  process: Process,
  warn: (m: string) => void,
): Promise<(SeccompPlan & { listenerPath?: string }) | null> {
  const seccomp = spec.linux?.seccomp;
  if (!seccomp) return null;
  if (!seccompCompiler) {
    const mod = (await import("../seccomp/index.ts")) as { compileSeccomp: SeccompCompiler };
    seccompCompiler = mod.compileSeccomp;
  }
  const out = seccompCompiler(seccomp, { capabilities: process.capabilities?.bounding });
  for (const w of out.warnings) warn(w);
  const NEW_LISTENER = 8;
  return {
    filter: out.filter,
    flags: out.flags,
    listener: (out.flags & NEW_LISTENER) !== 0,
    listenerPath: out.listenerPath,
  };
}
