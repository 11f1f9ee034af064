/**
 * Which fsyncs the store makes, per operation: the crash protocol's power-loss half
 * (docs/storage.md, "Crash safety"). fs.fsyncSync is wrapped (syncBuiltinESMExports makes the
 * store's named import see the wrapper) to record the path of every fd synced.
 */
import assert from "node:assert/strict";
import fs, { readlinkSync, rmSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LayerStore } from "../../../src/storage/index.ts";
import { writeFileAtomic } from "../../../src/storage/metadata.ts";
import { type Fixture, isRoot, makeFixture, readChunks, tempDir, unmountBelow } from "./helpers.ts";

const synced: string[] = [];
const realFsync = fs.fsyncSync;

function recordFsyncs(): void {
  fs.fsyncSync = (fd: number) => {
    synced.push(readlinkSync(`/proc/self/fd/${fd}`));
    realFsync(fd);
  };
  syncBuiltinESMExports();
}

function restoreFsyncs(): void {
  fs.fsyncSync = realFsync;
  syncBuiltinESMExports();
}

/** The fsyncs `fn` makes, paths relative to `root` ("." for root itself). */
async function fsyncsOf(root: string, fn: () => Promise<unknown> | unknown): Promise<string[]> {
  synced.length = 0;
  recordFsyncs();
  try {
    await fn();
  } finally {
    restoreFsyncs();
  }
  return synced.map((p) =>
    p === root ? "." : p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p,
  );
}

const TMP = /^\.store\.json\.tmp-\d+$/;
const shape = (paths: string[]) => paths.map((p) => (TMP.test(p) ? "tmp" : p));

describe("store durability", { skip: isRoot ? false : "needs root" }, () => {
  let dir: string;
  let fx: Fixture;
  before(() => {
    dir = tempDir("durability");
    fx = makeFixture();
  });
  after(() => {
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  });

  it("writeFileAtomic: true syncs the temp file and the directory, contents only the file", async () => {
    const root = join(dir, "atomic");
    fs.mkdirSync(root);
    assert.deepEqual(shape(await fsyncsOf(root, () => writeFileAtomic(root, "f", "a"))), [
      `.f.tmp-${process.pid}`,
      ".",
    ]);
    assert.deepEqual(await fsyncsOf(root, () => writeFileAtomic(root, "f", "b", "contents")), [
      `.f.tmp-${process.pid}`,
    ]);
    assert.deepEqual(await fsyncsOf(root, () => writeFileAtomic(root, "f", "c", false)), []);
    assert.equal(fs.readFileSync(join(root, "f"), "utf8"), "c");
  });

  for (const driver of ["overlay", "vfs"] as const) {
    it(`${driver}: create commits durably; rm announces durably and commits the contents`, async () => {
      const root = join(dir, driver);
      const store = await LayerStore.open({ root, driver });
      const layer = (await store.importLayer(readChunks(fx.basePath))).layer.id;
      // Announcement: no fsync (an orphan after a power loss); commit: file, then directory.
      assert.deepEqual(shape(await fsyncsOf(root, () => store.createContainer("c", layer))), [
        "tmp",
        ".",
      ]);
      // Announcement: file and directory (before any file goes); commit: the file only.
      assert.deepEqual(shape(await fsyncsOf(root, () => store.remove("c"))), ["tmp", ".", "tmp"]);
      assert.deepEqual(await store.check(), []);
      await store.remove(layer);
    });
  }
});
