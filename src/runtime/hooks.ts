/**
 * OCI hooks: each runs with the container's state JSON on stdin, its own args and env, and
 * an optional timeout after which it is killed. The first failing hook stops the lifecycle
 * step it belongs to (except poststop, whose failures are only reported).
 */
import { createRequire } from "node:module";
import { HoodError } from "../errors.ts";
import type { Hook, HookName, Spec } from "../oci/runtime-spec.ts";

export function hooksOf(spec: Spec, name: HookName): Hook[] {
  return spec.hooks?.[name] ?? [];
}

/** Runs one hook to completion; rejects with a message naming the hook and how it failed. */
export function runHook(name: HookName, index: number, hook: Hook, state: object): Promise<void> {
  // Loaded only when a hook runs: child_process brings net and streams, ~5 ms of a cold start.
  const { spawn } = createRequire(import.meta.url)(
    "node:child_process",
  ) as typeof import("node:child_process");
  return new Promise((resolve, reject) => {
    const label = `run ${name} hook ${index} (${hook.path})`;
    const argv = hook.args ?? [hook.path];
    const child = spawn(hook.path, argv.slice(1), {
      argv0: argv[0] ?? hook.path,
      env: Object.fromEntries(
        (hook.env ?? []).map((e) => {
          const eq = e.indexOf("=");
          return eq < 0 ? [e, ""] : [e.slice(0, eq), e.slice(eq + 1)];
        }),
      ),
      stdio: ["pipe", "inherit", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (hook.timeout !== undefined && hook.timeout > 0) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, hook.timeout * 1000);
    }
    child.on("error", (e) => {
      clearTimeout(timer);
      const code = (e as NodeJS.ErrnoException).code ?? "EIO";
      reject(new HoodError(`${label}: ${code}`, code, { cause: e }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new HoodError(`${label}: timed out after ${hook.timeout}s`, "ETIMEDOUT"));
      } else if (code === 0) {
        resolve();
      } else {
        const how = signal ? `killed by ${signal}` : `exit status ${code}`;
        const detail = stderr.trim() ? `, stderr: ${stderr.trim()}` : "";
        reject(new HoodError(`${label}: ${how}${detail}`, "HOOK_FAILED"));
      }
    });
    child.stdin?.on("error", () => {
      // A hook that does not read its stdin is not an error.
    });
    child.stdin?.end(JSON.stringify(state));
  });
}

/** Runs every hook of a kind in order; stops at the first failure. */
export async function runHooks(spec: Spec, name: HookName, state: object): Promise<void> {
  const list = hooksOf(spec, name);
  for (let i = 0; i < list.length; i++) await runHook(name, i, list[i]!, state);
}
