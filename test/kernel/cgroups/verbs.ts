/** Helpers for the cgroup tests: run a verb, wait, read cgroup files. */
import { type SpawnSyncOptions, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOOD, type Result } from "../../helpers/hood.ts";

const RUN_VERB = join(dirname(fileURLToPath(import.meta.url)), "run-verb.ts");
const CGROUP_VERBS = new Set(["pause", "resume", "update", "events"]);
let wired: boolean | undefined;

/** Whether the bundled CLI dispatches the cgroup verbs yet (else they run from the sources). */
function verbsWired(): boolean {
  if (wired === undefined) {
    const r = spawnSync(process.execPath, [HOOD, "pause"], { encoding: "utf8" });
    wired = !/unknown command/.test(String(r.stderr));
  }
  return wired;
}

/** The argv that runs `hood --root root ...args`, optionally prefixed (e.g. by unshare). */
export function hoodArgv(root: string, args: string[]): string[] {
  if (CGROUP_VERBS.has(args[0] ?? "") && !verbsWired()) {
    return [process.execPath, "--import", "tsx", RUN_VERB, "--root", root, ...args];
  }
  return [process.execPath, HOOD, "--root", root, ...args];
}

/**
 * Runs `hood --root root ...args` and waits for it. Output goes through files: a container
 * started by the command inherits hood's stdio, and a pipe would keep the wait open.
 */
export function hood(
  root: string,
  args: string[],
  o: SpawnSyncOptions & { prefix?: string[] } = {},
): Result {
  const argv = [...(o.prefix ?? []), ...hoodArgv(root, args)];
  const dir = mkdtempSync(join(tmpdir(), "hood-cg-out-"));
  const outFd = openSync(join(dir, "out"), "w+");
  const errFd = openSync(join(dir, "err"), "w+");
  try {
    const r = spawnSync(argv[0]!, argv.slice(1), {
      timeout: 30_000,
      ...o,
      stdio: ["ignore", outFd, errFd],
    });
    return {
      status: r.status,
      stdout: readFileSync(join(dir, "out"), "utf8"),
      stderr: readFileSync(join(dir, "err"), "utf8"),
    };
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function hoodBackground(root: string, args: string[], prefix: string[] = []) {
  const argv = [...prefix, ...hoodArgv(root, args)];
  return spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
}

export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function waitFor(check: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    sleepMs(20);
  }
}

export function readCg(path: string): string {
  return readFileSync(path, "utf8").trim();
}

/** "key value" lines of a cgroup file. */
export function keyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readCg(path).split("\n")) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** Whether this process can open a device read-only (a sandboxed host may forbid some). */
export function hostCanOpen(path: string): boolean {
  try {
    closeSync(openSync(path, "r"));
    return true;
  } catch {
    return false;
  }
}
