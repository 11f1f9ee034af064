/** The rules of `mounts` and `hooks`. */
import { at, type Checker, show } from "./checker.ts";
import { MOUNT_OPTION_WORDS } from "./names.ts";
import { HOOK_NAMES } from "./runtime-spec.ts";
import { absolutePath, type Context, isAbsolute, noNul } from "./validate-common.ts";
import { checkIdMappings } from "./validate-ids.ts";

const MOUNT_KEYS = ["destination", "type", "source", "options", "uidMappings", "gidMappings"];

export function checkMount(ctx: Context, p: string, v: unknown): void {
  const { c } = ctx;
  const m = c.object(p, v, true, MOUNT_KEYS);
  if (!m) return;
  const dest = c.string(at(p, "destination"), m.destination, true);
  if (dest === "") c.problem(at(p, "destination"), "must not be empty");
  else if (dest !== undefined && !isAbsolute(dest)) {
    c.warn(
      at(p, "destination"),
      `relative destination ${show(dest)} is deprecated, taken as relative to /`,
    );
  }
  noNul(c, at(p, "destination"), dest);
  const type = c.string(at(p, "type"), m.type);
  noNul(c, at(p, "type"), type);
  const source = c.string(at(p, "source"), m.source);
  noNul(c, at(p, "source"), source);
  const options = c.stringArray(at(p, "options"), m.options) ?? [];
  const isBind = type === "bind" || options.includes("bind") || options.includes("rbind");
  if (isBind) {
    const data = options.filter((o) => !MOUNT_OPTION_WORDS.includes(o));
    if (data.length > 0) {
      c.problem(
        at(p, "options"),
        `bind mounts cannot have any filesystem-specific options applied, got ${show(data)}`,
      );
    }
  }

  const uid = checkIdMappings(c, at(p, "uidMappings"), m.uidMappings);
  const gid = checkIdMappings(c, at(p, "gidMappings"), m.gidMappings);
  const wantsIdmap = options.includes("idmap") || options.includes("ridmap");
  if (m.uidMappings !== undefined || m.gidMappings !== undefined) {
    if (!isBind) c.problem(p, "id-mapped mounts are only supported for bind-mounts");
    if (!uid?.length || !gid?.length) {
      c.problem(p, "id-mapped mounts must have both uid and gid mappings specified");
    }
  } else if (wantsIdmap) {
    if (!isBind) c.problem(p, "id-mapped mounts are only supported for bind-mounts");
    if (!ctx.namespaces.has("user")) {
      c.problem(
        p,
        "idmap without uidMappings and gidMappings needs a user namespace to take them from",
      );
    }
  }
}

const HOOK_KEYS: readonly string[] = HOOK_NAMES;

export function checkHooks(c: Checker, v: unknown): void {
  const hooks = c.object("hooks", v, false, HOOK_KEYS);
  if (!hooks) return;
  for (const name of HOOK_NAMES) {
    c.array(at("hooks", name), hooks[name], (p, item) => {
      const h = c.object(p, item, true, ["path", "args", "env", "timeout"]);
      if (!h) return;
      absolutePath(c, at(p, "path"), h.path, true);
      c.stringArray(at(p, "args"), h.args);
      c.stringArray(at(p, "env"), h.env);
      const timeout = c.integer(at(p, "timeout"), h.timeout, "int64");
      if (timeout !== undefined && timeout <= 0) {
        c.problem(at(p, "timeout"), `must be greater than zero, got ${timeout}`);
      }
    });
  }
}
