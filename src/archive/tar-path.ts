/**
 * Turns a tar member name into path components relative to the extraction root. Absolute
 * names lose their leading slashes and `.` components vanish; a `..` component makes the name
 * refused (GNU tar refuses them too), so nothing depends on how `..` would be resolved.
 */
export type Components = Buffer[];

export function memberComponents(name: Buffer): Components | "dotdot" {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name[i] === 0x2f) {
      if (i > start) {
        const c = name.subarray(start, i);
        if (c.length === 1 && c[0] === 0x2e) {
          // "." is skipped
        } else if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) return "dotdot";
        else out.push(c);
      }
      start = i + 1;
    }
  }
  return out;
}

export function joinComponents(c: Components): Buffer {
  const parts: Buffer[] = [];
  c.forEach((p, i) => {
    if (i > 0) parts.push(SLASH);
    parts.push(p);
  });
  return Buffer.concat(parts);
}

const SLASH = Buffer.from("/");

/** A display form for messages: UTF-8 where possible, JSON-quoted. */
export function showPath(p: Buffer): string {
  return JSON.stringify(p.toString("utf8"));
}
