/** btrfs specifics on a loop-mounted image: read-only layers, quota, reflinks, auto-selection. */
import assert from "node:assert/strict";
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LayerStore } from "../../../src/storage/index.ts";
import { copyTree } from "../../../src/storage/tree-copy.ts";
import { BtrfsImage, type Fixture, isRoot, makeFixture, readChunks, tempDir } from "./helpers.ts";

describe("btrfs driver", { skip: BtrfsImage.unavailable() ?? false }, () => {
  let img: BtrfsImage;
  let fx: Fixture;
  before(() => {
    img = new BtrfsImage();
    fx = makeFixture();
  });
  after(() => {
    img?.close();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  it("is chosen on btrfs without being named, and keeps layers read-only", async () => {
    const store = await LayerStore.open({ root: join(img.mnt, "auto") });
    assert.equal(store.driver.name, "btrfs");
    const base = await store.importLayer(readChunks(fx.basePath));
    const layerFile = join(img.mnt, "auto/btrfs/layers", base.layer.id, "etc/hostname");
    assert.throws(() => writeFileSync(layerFile, "x"), { code: "EROFS" });
    await store.remove(base.layer.id);
  });

  it("limits a container's exclusive bytes with btrfs.size", async () => {
    const store = await LayerStore.open({
      root: join(img.mnt, "quota"),
      driver: "btrfs",
      options: { "btrfs.size": "4M" },
    });
    const base = await store.importLayer(readChunks(fx.basePath));
    const c = await store.createContainer("q", base.layer.id);
    writeFileSync(join(c.path, "small"), Buffer.alloc(1 << 20));
    assert.throws(
      () => {
        // qgroup accounting lags a little: write well past the limit, syncing as we go.
        for (let i = 0; i < 16; i++) {
          const fd = openSync(join(c.path, `big${i}`), "w");
          try {
            writeFileSync(fd, Buffer.alloc(1 << 20, 1));
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
        }
        // libuv has no name for EDQUOT (122): Node reports it as UNKNOWN with errno -122.
      },
      (e: NodeJS.ErrnoException) => e.code === "EDQUOT" || e.errno === -122,
    );
    await store.remove("q");
    await store.remove(base.layer.id);
  });

  it("copies trees with FICLONE where the filesystem shares extents", () => {
    const src = join(img.mnt, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/f"), Buffer.alloc(300000, 3));
    const dst = join(img.mnt, "dst");
    mkdirSync(dst);
    const s = openSync(src, "r");
    const d = openSync(dst, "r");
    try {
      const stats = copyTree(s, d);
      assert.equal(stats.cloned, 1);
      assert.equal(stats.copiedBytes, 0);
    } finally {
      closeSync(s);
      closeSync(d);
    }
  });
});

describe("vfs copies without reflinks", { skip: isRoot ? false : "needs root" }, () => {
  it("copies the data where FICLONE is refused (ext4)", () => {
    const dir = tempDir("copy");
    try {
      mkdirSync(join(dir, "src"));
      mkdirSync(join(dir, "dst"));
      writeFileSync(join(dir, "src/f"), Buffer.alloc(300000, 3));
      const s = openSync(join(dir, "src"), "r");
      const d = openSync(join(dir, "dst"), "r");
      try {
        const stats = copyTree(s, d);
        // tmpdir is ext4 here; on a reflink filesystem the clone path is taken instead.
        assert.equal(stats.cloned + (stats.copiedBytes === 300000 ? 1 : 0), 1);
      } finally {
        closeSync(s);
        closeSync(d);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
