/**
 * Extraction creates plain files on the write queue's thread while it reads on, so a later
 * entry can meet a name whose create is still queued. These archives reuse names in every
 * order; the result must be what extracting one entry after the other gives.
 */
import assert from "node:assert/strict";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { extractTar } from "../../../src/archive/extract.ts";
import { buildTar, chunks, type Member } from "./helpers.ts";

const base = mkdtempSync(join(tmpdir(), "hood-extract-order-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

async function extract(members: Member[], prepare?: (dir: string) => void): Promise<string> {
  const dir = join(base, `t${n++}`);
  mkdirSync(dir);
  prepare?.(dir);
  await extractTar(chunks(await buildTar(members), 4096), dir, { sameOwner: false });
  return dir;
}

const data = (s: string) => Buffer.from(s);

describe("extraction when names are reused", () => {
  it("a file, then a directory of that name, then a file in it", async () => {
    const d = await extract([
      { name: "x", data: data("file") },
      { name: "x/", kind: "directory" },
      { name: "x/y", data: data("inside") },
    ]);
    assert.ok(statSync(join(d, "x")).isDirectory());
    assert.equal(readFileSync(join(d, "x/y"), "utf8"), "inside");
  });

  it("a directory with files, then a file of that name", async () => {
    const d = await extract([
      { name: "d/", kind: "directory" },
      { name: "d/a", data: data("a") },
      { name: "d", data: data("now a file") },
    ]);
    assert.equal(readFileSync(join(d, "d"), "utf8"), "now a file");
  });

  it("the same file twice, and a file replaced by a symlink", async () => {
    const d = await extract([
      { name: "f", data: data("first") },
      { name: "f", data: data("second") },
      { name: "s", data: data("file") },
      { name: "s", kind: "symlink", edit: (h) => (h.linkname = Buffer.from("f")) },
    ]);
    assert.equal(readFileSync(join(d, "f"), "utf8"), "second");
    assert.equal(readlinkSync(join(d, "s")), "f");
  });

  it("a hardlink to a file written just before", async () => {
    const d = await extract([
      { name: "a", data: data("shared") },
      { name: "b", kind: "hardlink", edit: (h) => (h.linkname = Buffer.from("a")) },
    ]);
    assert.equal(statSync(join(d, "a")).ino, statSync(join(d, "b")).ino);
    assert.equal(readFileSync(join(d, "b"), "utf8"), "shared");
  });

  it("a file used as a directory is refused, as when extracting one entry at a time", async () => {
    await assert.rejects(
      extract([
        { name: "a", data: data("file") },
        { name: "a/b", data: data("below a file") },
      ]),
      (e: Error & { code?: string }) => e.code === "ENOTDIR",
    );
  });

  it("a file through a symlink made by the same archive lands inside the target", async () => {
    const d = await extract([
      { name: "real/", kind: "directory" },
      { name: "real/f", data: data("old") },
      { name: "link", kind: "symlink", edit: (h) => (h.linkname = Buffer.from("real")) },
      { name: "link/f", data: data("new") },
    ]);
    assert.equal(readFileSync(join(d, "real/f"), "utf8"), "new");
    assert.ok(lstatSync(join(d, "link")).isSymbolicLink());
  });

  it("onto a directory that is not empty, existing files are replaced", async () => {
    const d = await extract([{ name: "old", data: data("from the archive") }], (dir) => {
      writeFileSync(join(dir, "old"), "already there");
      writeFileSync(join(dir, "other"), "kept");
    });
    assert.equal(readFileSync(join(d, "old"), "utf8"), "from the archive");
    assert.equal(readFileSync(join(d, "other"), "utf8"), "kept");
  });

  it("thousands of files in more directories than the fd cache holds", async () => {
    const members: Member[] = [];
    for (let i = 0; i < 3000; i++) {
      members.push({
        name: `d${i % 97}/sub${i % 3}/f${i}`,
        data: Buffer.alloc(i % 5000, i & 0xff),
        edit: (h) => {
          h.mode = 0o600 | (i % 2 ? 0o44 : 0);
          h.mtime = { sec: 1_500_000_000 + i, nsec: 0 };
        },
      });
    }
    const d = await extract(members);
    for (let i = 0; i < 3000; i += 7) {
      const p = join(d, `d${i % 97}/sub${i % 3}/f${i}`);
      assert.deepEqual(readFileSync(p), Buffer.alloc(i % 5000, i & 0xff), p);
      const st = statSync(p);
      assert.equal(st.mode & 0o777, 0o600 | (i % 2 ? 0o44 : 0), p);
      assert.equal(st.mtimeMs, (1_500_000_000 + i) * 1000, p);
    }
  });

  it("modes and owners whether or not a file is created with its final mode", async () => {
    // Set-id bits, bits the umask takes away, read-only files, an owner that is not ours.
    const modes = [0o644, 0o4755, 0o2711, 0o1777, 0o666, 0o400, 0o000, 0o757];
    const members: Member[] = [];
    for (let i = 0; i < modes.length * 4; i++) {
      members.push({
        name: i % 2 ? `m/f${i}` : `f${i}`,
        data: Buffer.alloc(i % 3 === 0 ? 70_000 : i * 100, i),
        edit: (h) => {
          h.mode = modes[i % modes.length]!;
          h.uid = i % 4 < 2 ? 0 : 1000 + i;
          h.gid = i % 4 < 2 ? 0 : 2000 + i;
        },
      });
    }
    const dir = join(base, `t${n++}`);
    mkdirSync(dir);
    const old = process.umask(0o022);
    try {
      const root = process.geteuid?.() === 0;
      await extractTar(chunks(await buildTar(members), 4096), dir, { sameOwner: root });
      members.forEach((m, i) => {
        const name = String(m.name);
        const st = statSync(join(dir, name));
        assert.equal(st.mode & 0o7777, modes[i % modes.length], name);
        assert.equal(st.size, m.data!.length, name);
        if (root) {
          assert.equal(st.uid, i % 4 < 2 ? 0 : 1000 + i, name);
          assert.equal(st.gid, i % 4 < 2 ? 0 : 2000 + i, name);
        }
      });
    } finally {
      process.umask(old);
    }
  });
});
