import { statSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { listIds, ociState, readRecord } from "../runtime/state.ts";
import { parse } from "./args.ts";
import { globals } from "./context.ts";
import { out } from "./output.ts";

/** Go's text/tabwriter as runc sets it up: min width 12, padding 3, the last column as is. */
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, Math.max(12, cell.length + 3));
    });
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join(""),
    )
    .map((line) => `${line}\n`)
    .join("");
}

function ownerOf(dir: string): string {
  try {
    const uid = statSync(dir).uid;
    return uid === process.getuid?.() ? userInfo().username : String(uid);
  } catch {
    return "";
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      format: { type: "string", short: "f", default: "table" },
      quiet: { type: "boolean", short: "q", default: false },
    },
    "list",
  );
  const root = globals.root;
  const states = listIds(root)
    .map((id) => readRecord(root, id))
    .filter((r) => r !== null)
    .map((r) => ({ ...ociState(root, r), owner: ownerOf(join(root, r.id)) }));
  if (values.quiet) {
    out(states.map((s) => `${s.id}\n`).join(""));
    return 0;
  }
  if (values.format === "json") {
    out(`${states.length === 0 ? "null" : JSON.stringify(states)}\n`);
    return 0;
  }
  const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
  for (const s of states) {
    rows.push([s.id, String(s.pid), s.status, s.bundle, String(s.created), s.owner]);
  }
  out(tabulate(rows));
  return 0;
}
