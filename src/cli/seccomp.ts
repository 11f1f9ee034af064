/**
 * `hood seccomp compile|disasm|dump|sim`: compile a profile to BPF, read BPF back, read the
 * filters a process has loaded, and ask what a call would get.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { HoodError, syscallError } from "../errors.ts";
import { describeAction } from "../seccomp/actions.ts";
import { decodeProgram, type Endian, hostEndian } from "../seccomp/bpf.ts";
import { disassemble, formatC } from "../seccomp/disasm.ts";
import { compileSeccomp, targetArch } from "../seccomp/index.ts";
import { parseProfileJson } from "../seccomp/json.ts";
import { simulate } from "../seccomp/simulate.ts";
import { containerPid } from "./container-pid.ts";
import { err, out } from "./output.ts";

const USAGE = `usage:
  hood seccomp compile PROFILE.json [--arch A] [--format bpf|asm|c] [--cap CAP ...] [-o FILE]
  hood seccomp disasm FILE.bpf [--endian le|be]
  hood seccomp dump PID|CONTAINER
  hood seccomp sim PROFILE.json --syscall NAME [--arg0 V ... --arg5 V] [--arch A] [--cap CAP ...]
`;

function readProfile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw syscallError(`read the seccomp profile ${JSON.stringify(path)}`, e);
  }
  try {
    const parsed = parseProfileJson(text) as Record<string, unknown>;
    // A whole config.json is accepted too: its linux.seccomp is the profile.
    const linux = parsed?.linux as Record<string, unknown> | undefined;
    return linux && typeof linux === "object" && "seccomp" in linux ? linux.seccomp : parsed;
  } catch (e) {
    throw new HoodError(
      `parse the seccomp profile ${JSON.stringify(path)}: ${(e as Error).message}`,
      "INVALID_SPEC",
    );
  }
}

function compileCmd(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      arch: { type: "string" },
      format: { type: "string", default: "asm" },
      cap: { type: "string", multiple: true },
      output: { type: "string", short: "o" },
    },
  });
  if (positionals.length !== 1) throw new HoodError(`compile takes one profile\n${USAGE}`, "USAGE");
  const compiled = compileSeccomp(readProfile(positionals[0]!), {
    arch: values.arch,
    capabilities: values.cap ?? [],
  });
  for (const w of compiled.warnings) err(`hood: warning: ${w}\n`);
  let data: string | Buffer;
  if (values.format === "bpf") data = compiled.filter;
  else if (values.format === "c") data = formatC(compiled.program);
  else if (values.format === "asm") data = disassemble(compiled.program, compiled.endian);
  else
    throw new HoodError(
      `unknown --format ${JSON.stringify(values.format)}: use bpf, asm or c`,
      "USAGE",
    );
  if (values.output) writeFileSync(values.output, data);
  else if (typeof data === "string") out(data);
  else if (process.stdout.isTTY)
    throw new HoodError("refusing to write BPF to a terminal: use -o FILE", "USAGE");
  else writeAllBinary(data);
  if (typeof data === "string" || values.output) {
    err(
      `${compiled.program.length} instructions, flags 0x${compiled.flags.toString(16)} (${compiled.arch.name})\n`,
    );
  }
  return 0;
}

function writeAllBinary(buf: Buffer): void {
  // out() takes text; binary goes through the same writeSync path byte for byte.
  out(buf.toString("latin1"));
}

function disasmCmd(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { endian: { type: "string" } },
  });
  if (positionals.length !== 1) throw new HoodError(`disasm takes one file\n${USAGE}`, "USAGE");
  const endian = (values.endian ?? hostEndian) as Endian;
  if (endian !== "le" && endian !== "be") throw new HoodError("--endian is le or be", "USAGE");
  let buf: Buffer;
  try {
    buf = readFileSync(positionals[0]!);
  } catch (e) {
    throw syscallError(`read ${JSON.stringify(positionals[0])}`, e);
  }
  if (buf.length % 8 !== 0) {
    throw new HoodError(
      `disassemble ${JSON.stringify(positionals[0])}: ${buf.length} bytes is not a whole number of 8-byte instructions`,
      "INVALID_ARGUMENT",
    );
  }
  out(disassemble(decodeProgram(buf, endian), endian));
  return 0;
}

async function dumpCmd(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1)
    throw new HoodError(`dump takes one pid or container id\n${USAGE}`, "USAGE");
  const target = String(containerPid(positionals[0]!));
  const { loadedFiltersOfPid } = await import("../seccomp/dump.ts");
  const filters = loadedFiltersOfPid(Number(target));
  if (filters.length === 0) {
    out(`process ${target} has no seccomp filter\n`);
    return 0;
  }
  filters.forEach((f, i) => {
    out(
      `# filter ${i} of ${filters.length} (${i === 0 ? "newest" : "older"}), ${f.length} instructions\n`,
    );
    out(disassemble(f, hostEndian));
  });
  return 0;
}

function parseArgValue(s: string, name: string): bigint {
  try {
    const v = BigInt(s);
    if (v < 0n || v >= 2n ** 64n) throw new RangeError();
    return v;
  } catch {
    throw new HoodError(`--${name}: ${JSON.stringify(s)} is not a uint64`, "USAGE");
  }
}

function simCmd(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      syscall: { type: "string" },
      arch: { type: "string" },
      abi: { type: "string" },
      cap: { type: "string", multiple: true },
      arg0: { type: "string" },
      arg1: { type: "string" },
      arg2: { type: "string" },
      arg3: { type: "string" },
      arg4: { type: "string" },
      arg5: { type: "string" },
    },
  });
  if (positionals.length !== 1 || !values.syscall)
    throw new HoodError(`sim takes a profile and --syscall\n${USAGE}`, "USAGE");
  const compiled = compileSeccomp(readProfile(positionals[0]!), {
    arch: values.arch,
    capabilities: values.cap ?? [],
  });
  // --abi picks the calling ABI (x86 on an x86_64 host); it defaults to the host's.
  const abi = targetArch(values.abi ?? compiled.arch.name);
  let nr = abi.syscalls.get(values.syscall);
  if (nr === undefined && /^\d+$/.test(values.syscall)) nr = Number(values.syscall);
  if (nr === undefined)
    throw new HoodError(
      `sim: ${abi.name} has no syscall ${JSON.stringify(values.syscall)}`,
      "USAGE",
    );
  const raw = [values.arg0, values.arg1, values.arg2, values.arg3, values.arg4, values.arg5];
  const args = raw.map((v, i) => (v === undefined ? 0n : parseArgValue(v, `arg${i}`)));
  const r = simulate(compiled.program, { nr, arch: abi.audit, args }, compiled.endian);
  out(`${describeAction(r.value)}\n`);
  err(`${values.syscall} (${abi.name} ${nr}): ${r.steps} instructions executed\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case "compile":
        return compileCmd(rest);
      case "disasm":
        return disasmCmd(rest);
      case "dump":
        return await dumpCmd(rest);
      case "sim":
        return simCmd(rest);
      default:
        err(USAGE);
        return 2;
    }
  } catch (e) {
    if (e instanceof HoodError) {
      err(`hood: seccomp ${verb}: ${e.message}\n`);
      return e.code === "USAGE" ? 2 : 1;
    }
    if ((e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      err(`hood: seccomp ${verb}: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
