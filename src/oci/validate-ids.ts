/** uid and gid maps, checked the way the kernel checks a write to uid_map. */
import { at, type Checker, type Json } from "./checker.ts";

/** The kernel takes at most 340 lines in uid_map and gid_map. */
const MAX_ID_MAP_LINES = 340;

interface IdRange {
  inside: [number, number];
  outside: [number, number];
  path: string;
}

function overlaps(a: [number, number], b: [number, number]): boolean {
  return a[0] < b[1] && b[0] < a[1];
}

/** One line of a uid or gid map, checked the way the kernel's map_write checks it. */
function checkIdMapping(c: Checker, p: string, item: unknown): IdRange | "bad" | undefined {
  const m = c.object(p, item, true, ["containerID", "hostID", "size"]);
  if (!m) return "bad";
  const inside = c.integer(at(p, "containerID"), m.containerID, "uint32", true);
  const outside = c.integer(at(p, "hostID"), m.hostID, "uint32", true);
  const size = c.integer(at(p, "size"), m.size, "uint32", true);
  if (inside === undefined || outside === undefined || size === undefined) return "bad";
  if (size === 0) {
    c.problem(at(p, "size"), "must be greater than 0");
  } else if (inside + size > 2 ** 32 || outside + size > 2 ** 32) {
    c.problem(p, "range goes past the last 32-bit id");
  } else {
    return { inside: [inside, inside + size], outside: [outside, outside + size], path: p };
  }
  return undefined;
}

/** Checks a uid or gid map; returns it when every line has the right shape. */
export function checkIdMappings(c: Checker, path: string, v: unknown): Json[] | undefined {
  const ranges: IdRange[] = [];
  let shaped = true;
  const arr = c.array(path, v, (p, item) => {
    const r = checkIdMapping(c, p, item);
    if (r === "bad") shaped = false;
    if (r === undefined || r === "bad") return;
    for (const other of ranges) {
      if (overlaps(r.inside, other.inside) || overlaps(r.outside, other.outside)) {
        c.problem(p, `overlaps ${other.path}`);
      }
    }
    ranges.push(r);
  });
  if (arr && arr.length > MAX_ID_MAP_LINES) {
    c.problem(path, `must have at most ${MAX_ID_MAP_LINES} entries, got ${arr.length}`);
  }
  return arr && shaped ? (arr as Json[]) : undefined;
}
