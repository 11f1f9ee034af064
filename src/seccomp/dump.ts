/**
 * Reads the seccomp filters loaded in a process (PTRACE_SECCOMP_GET_FILTER, root only).
 * The runtime resolves a container ID to its init pid and calls `loadedFiltersOfPid`.
 */
import { syscallError } from "../errors.ts";
import { addon } from "../native/addon.ts";
import { decodeProgram, type Insn } from "./bpf.ts";

type GetFilter = (pid: number, index: number) => Buffer | null;

/** The kernel refuses more than this many stacked filters' worth of instructions anyway. */
const MAX_FILTERS = 512;

/** Every filter of the process, the most recently loaded first, as raw instructions. */
export function loadedFiltersOfPid(pid: number): Insn[][] {
  const get = addon().seccompGetFilter as GetFilter;
  const out: Insn[][] = [];
  for (let i = 0; i < MAX_FILTERS; i++) {
    let buf: Buffer | null;
    try {
      buf = get(pid, i);
    } catch (e) {
      throw syscallError(`read seccomp filter ${i} of process ${pid}`, e);
    }
    if (!buf) break;
    // The kernel hands the filter back in its own (the host's) byte order.
    out.push(decodeProgram(buf));
  }
  return out;
}
