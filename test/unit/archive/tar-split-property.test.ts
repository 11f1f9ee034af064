/**
 * Property: for random trees, tar -> extract with tar-split capture -> asm gives the same
 * bytes, for every writer format.
 */
import assert from "node:assert/strict";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { extractTar } from "../../../src/archive/extract.ts";
import { assemble } from "../../../src/archive/tar-split/assemble.ts";
import { decodeEntries } from "../../../src/archive/tar-split/storage.ts";
import { buildTar, chunks, type Member } from "./helpers.ts";

const segment = fc
  .stringMatching(/^[a-zA-Z0-9._ ü-]{1,12}$/)
  .filter((s) => s !== "." && s !== ".." && !s.startsWith(".wh."));

const tree = fc.uniqueArray(
  fc.record({
    path: fc.array(segment, { minLength: 1, maxLength: 4 }),
    kind: fc.constantFrom("file", "file", "directory", "symlink"),
    size: fc.nat({ max: 3000 }),
    seed: fc.nat({ max: 255 }),
  }),
  { selector: (e) => e.path.join("/"), maxLength: 12 },
);

async function roundTrip(members: Member[], format: "pax" | "gnu" | "ustar"): Promise<void> {
  const tar = await buildTar(members, format);
  const root = mkdtempSync(join(tmpdir(), "hood-prop-"));
  try {
    const dir = join(root, "x");
    mkdirSync(dir);
    let meta = "";
    await extractTar(chunks(tar, 1000), dir, {
      sameOwner: false,
      split: async (t) => {
        meta += t;
      },
    });
    const fd = openSync(dir, "r");
    const out: Buffer[] = [];
    try {
      await assemble(decodeEntries(chunks(Buffer.from(meta))), fd, (b) => {
        out.push(Buffer.from(b));
      });
    } finally {
      closeSync(fd);
    }
    assert.ok(Buffer.concat(out).equals(tar));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("tar-split property", () => {
  it("random trees -> tar -> split -> asm gives the same bytes", async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.constantFrom("pax", "gnu", "ustar"), async (entries, format) => {
        // A path that is also a prefix of another must be a directory.
        const names = new Set(entries.map((e) => e.path.join("/")));
        const members: Member[] = entries
          .filter((e) => format !== "ustar" || e.path.join("/").length < 100)
          .map((e) => {
            const name = e.path.join("/");
            const isParent = [...names].some((n) => n.startsWith(`${name}/`));
            const kind = isParent ? "directory" : (e.kind as "file" | "directory" | "symlink");
            if (kind === "file") {
              const data = Buffer.alloc(e.size, e.seed);
              return { name, data };
            }
            if (kind === "symlink")
              return { name, kind, edit: (h) => (h.linkname = Buffer.from("t")) };
            return { name: `${name}/`, kind };
          });
        members.sort((a, b) => String(a.name).localeCompare(String(b.name)));
        await roundTrip(members, format);
      }),
      { numRuns: 40, seed: 20240601 },
    );
  });
});
