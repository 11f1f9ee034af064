/** sysctl names, and runc's rule on which of them a container may set. */
import { show } from "./checker.ts";
import type { Context } from "./validate-common.ts";

/** sysctls namespaced by the IPC namespace (besides fs.mqueue.*). */
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * sysctl(8) accepts "/" as the separator too; then a "." is part of a name (an interface
 * "eno2.100"). This gives the dotted form, with such a "." turned into "/", as runc does.
 */
export function sysctlDotted(key: string): string {
  const first = key.search(/[./]/);
  if (first < 0 || key[first] === ".") return key;
  return key.replace(/[./]/g, (ch) => (ch === "." ? "/" : "."));
}

/**
 * The file of a sysctl under /proc/sys ("net/ipv4/conf/eno2.100/rp_filter"), or undefined when
 * a part of its name is empty, "." or "..", which would leave the directory it names.
 */
export function sysctlPath(key: string): string | undefined {
  const parts = sysctlDotted(key)
    .split(".")
    .map((part) => part.replaceAll("/", "."));
  const bad = parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\0"));
  return bad ? undefined : parts.join("/");
}

export function checkSysctl(ctx: Context, v: unknown): void {
  const { c } = ctx;
  c.map("linux.sysctl", v, (p, key, value) => {
    c.string(p, value, true);
    const message = sysctlProblem(ctx.namespaces, key);
    if (message !== undefined) c.problem(p, message);
  });
}

/** runc's rule: only sysctls of a namespace the container has of its own may be set. */
function sysctlProblem(namespaces: Context["namespaces"], key: string): string | undefined {
  const s = sysctlDotted(key);
  if (sysctlPath(key) === undefined) return `invalid sysctl name ${show(key)}`;
  if (IPC_SYSCTLS.has(s) || s.startsWith("fs.mqueue.")) {
    return namespaces.has("ipc")
      ? undefined
      : `sysctl ${show(s)} is not allowed in the hosts ipc namespace`;
  }
  if (s.startsWith("net.")) {
    // A joined network namespace may still be the host's; the runtime checks that, we cannot.
    return namespaces.has("network")
      ? undefined
      : `sysctl ${show(s)} not allowed in host network namespace`;
  }
  if (namespaces.has("uts")) {
    if (s === "kernel.domainname") return undefined;
    if (s === "kernel.hostname") {
      return `sysctl ${show(s)} is not allowed as it conflicts with the OCI "hostname" field`;
    }
  }
  return `sysctl ${show(s)} is not in a separate kernel namespace`;
}
