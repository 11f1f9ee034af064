import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  emptyMetadata,
  METADATA_FILE,
  readMetadata,
  writeFileAtomic,
  writeMetadata,
} from "../../../src/storage/metadata.ts";

describe("store metadata", () => {
  const dir = mkdtempSync(join(tmpdir(), "hood-meta-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads null for a new store and gives back what was written", () => {
    const root = mkdtempSync(join(dir, "s"));
    assert.equal(readMetadata(root), null);
    const m = emptyMetadata("vfs");
    m.pending.push({ op: "create-layer", id: "tmp-0123456789abcdef", pid: 1 });
    writeMetadata(root, m);
    assert.deepEqual(readMetadata(root), m);
    assert.deepEqual(readdirSync(root), [METADATA_FILE], "no temp file is left");
  });

  it("replaces the file whole: the old contents until the rename", () => {
    const root = mkdtempSync(join(dir, "s"));
    writeFileAtomic(root, "f", "one");
    writeFileAtomic(root, "f", "two", false);
    assert.equal(readFileSync(join(root, "f"), "utf8"), "two");
  });

  it("reports a damaged file instead of starting over", () => {
    const root = mkdtempSync(join(dir, "s"));
    writeFileSync(join(root, METADATA_FILE), '{"version":1,"layers":');
    assert.throws(() => readMetadata(root), { code: "STORE_CORRUPT", message: /not valid JSON/ });
    writeFileSync(join(root, METADATA_FILE), '{"version":7}');
    assert.throws(() => readMetadata(root), { code: "STORE_CORRUPT", message: /unknown format/ });
  });
});
