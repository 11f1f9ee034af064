/**
 * Every driver, the same scenario: layers from tars, two containers from one image, changes
 * in one that the other and the image never see, a diff that reproduces the container when
 * applied on the image, a commit, and exports byte-identical to the imported tars.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  chmodSync,
  linkSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deviceMapperUnavailable } from "../../../src/storage/drivers/lvmthin.ts";
import type { DriverName } from "../../../src/storage/index.ts";
import { LayerStore } from "../../../src/storage/index.ts";
import {
  applyLayers,
  BtrfsImage,
  type Fixture,
  isRoot,
  makeFixture,
  manifest,
  mountsBelow,
  readChunks,
  sha256,
  tempDir,
  unmountBelow,
} from "./helpers.ts";

async function collect(fn: (sink: (b: Buffer) => void) => Promise<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  await fn((b) => {
    parts.push(Buffer.from(b));
  });
  return Buffer.concat(parts);
}

/** Changes of every kind, made inside a container's root filesystem. */
function change(root: string): void {
  writeFileSync(join(root, "etc/new-file"), "new\n");
  appendFileSync(join(root, "etc/passwd"), "app:x:1000:1000::/home/app:/bin/sh\n");
  rmSync(join(root, "var/lib/app/data"));
  renameSync(join(root, "opt/keep"), join(root, "opt/kept"));
  rmSync(join(root, "opt/old"), { recursive: true });
  mkdirSync(join(root, "srv/www"), { recursive: true });
  writeFileSync(join(root, "srv/www/index.html"), "<p>hi</p>\n");
  linkSync(join(root, "srv/www/index.html"), join(root, "srv/www/index-link.html"));
  symlinkSync("/srv/www", join(root, "www"));
  chmodSync(join(root, "usr/bin/tool"), 0o755);
  writeFileSync(join(root, "etc/hostname"), "changed\n");
}

function scenario(driver: DriverName, where: () => string, options: Record<string, string> = {}) {
  let fx: Fixture;
  let root: string;
  let store: LayerStore;

  before(async () => {
    fx = makeFixture();
    root = join(where(), `store-${driver}`);
    store = await LayerStore.open({ root, driver, options });
  });

  after(() => {
    unmountBelow(root);
    rmSync(root, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  });

  it("stores layers by chain id and exports each byte for byte", async () => {
    const base = await store.importLayer(readChunks(fx.basePath));
    assert.equal(base.layer.diffId, sha256(fx.base));
    assert.equal(base.layer.id, sha256(fx.base).slice(7), "a base layer's chain id is its diffID");
    const child = await store.importLayer(readChunks(fx.childGzPath), base.layer.id);
    assert.equal(child.layer.compression, "gzip");
    assert.equal(child.layer.parent, base.layer.id);
    assert.deepEqual(await collect((s) => store.exportLayer(base.layer.id, s)), fx.base);
    assert.deepEqual(await collect((s) => store.exportLayer(child.layer.id, s)), fx.child);
    const again = await store.importLayer(readChunks(fx.basePath));
    assert.equal(again.existed, true);
    assert.equal(again.layer.refs, 2);
  });

  it("keeps the image and a sibling container untouched, and diffs what changed", async () => {
    const [base, child] = (await orderedLayers(store)) as [string, string];
    const reference = tempDir("ref");
    try {
      await applyLayers(reference, [fx.base, fx.child]);
      const image = manifest(reference);
      const c1 = await store.createContainer("c1", child);
      const c2 = await store.createContainer("c2", child);
      assert.notEqual(c1.path, c2.path);
      assert.deepEqual(manifest(c1.path), image, "a new container shows the image");
      change(c1.path);
      const changed = manifest(c1.path);
      assert.notDeepEqual(changed, image);
      assert.deepEqual(manifest(c2.path), image, "the sibling container is untouched");
      const c3 = await store.createContainer("c3", child);
      assert.deepEqual(manifest(c3.path), image, "the image is untouched");
      assert.deepEqual(await collect((s) => store.exportLayer(base, s)), fx.base);
      assert.deepEqual(await collect((s) => store.exportLayer(child, s)), fx.child);

      const diff = await collect((s) => store.diff("c1", s));
      await applyLayers(reference, [diff]);
      assert.deepEqual(manifest(reference), changed, "image + diff = the container's view");

      const committed = await store.commit("c1");
      assert.equal(committed.layer.parent, child);
      assert.equal(committed.layer.diffId, sha256(diff), "commit stores the same diff");
      assert.deepEqual(await collect((s) => store.exportLayer(committed.layer.id, s)), diff);
      const c4 = await store.createContainer("c4", committed.layer.id);
      assert.deepEqual(manifest(c4.path), changed, "a container of the commit shows the changes");
    } finally {
      rmSync(reference, { recursive: true, force: true });
    }
  });

  it("removes containers and layers by reference count, and leaves nothing behind", async () => {
    const info = await store.inspect("c1");
    assert.equal(info.kind, "container");
    const [base, child, top] = await orderedLayers(store);
    const kept = await store.remove(base!);
    assert.match(kept.kept ?? "", /1 more reference/);
    const used = await store.remove(child!);
    assert.match(used.kept ?? "", /used by/);
    for (const c of await store.listContainers()) await store.remove(c.name);
    assert.deepEqual(mountsBelow(root), [], "no container stays mounted");
    await store.remove(top!);
    const pruned = await store.prune();
    assert.deepEqual(pruned.layers, [child!], "prune deletes the unreferenced layer, not the base");
    assert.deepEqual(pruned.orphans, []);
    const last = await store.remove(base!);
    assert.equal(last.kept, undefined);
    assert.deepEqual(await store.listLayers(), []);
    assert.deepEqual(await store.check(), []);
  });
}

/** Layer IDs from the base up (each one's parent comes before it). */
async function orderedLayers(store: LayerStore): Promise<string[]> {
  const layers = await store.listLayers();
  const out: string[] = [];
  let parent: string | undefined;
  for (;;) {
    const next = layers.find((l) => l.parent === parent);
    if (!next) return out;
    out.push(next.id);
    parent = next.id;
  }
}

describe("storage driver overlay", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("overlay");
  after(() => rmSync(dir, { recursive: true, force: true }));
  scenario("overlay", () => dir);
});

describe("storage driver overlay through mount(2)", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("overlay-legacy");
  after(() => rmSync(dir, { recursive: true, force: true }));
  scenario("overlay", () => dir, { "overlay.mount_api": "legacy" });
});

describe("storage driver vfs", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("vfs");
  after(() => rmSync(dir, { recursive: true, force: true }));
  scenario("vfs", () => dir);
});

const btrfsSkip = BtrfsImage.unavailable() ?? false;

describe("storage driver btrfs (loop-mounted image)", { skip: btrfsSkip }, () => {
  let img: BtrfsImage;
  before(() => {
    img = new BtrfsImage();
  });
  after(() => img?.close());
  scenario("btrfs", () => img.mnt);
});

describe("storage driver vfs with reflinks (on btrfs)", { skip: btrfsSkip }, () => {
  let img: BtrfsImage;
  before(() => {
    img = new BtrfsImage();
  });
  after(() => img?.close());
  scenario("vfs", () => img.mnt);
});

const dmSkip = !isRoot
  ? "needs root"
  : (deviceMapperUnavailable() ??
    (process.env.HOOD_TEST_THINPOOL
      ? false
      : "set HOOD_TEST_THINPOOL=VG/POOL to a thin pool hood may use (see docs/lvmthin.md)"));

describe("storage driver lvmthin", { skip: dmSkip }, () => {
  const dir = tempDir("lvmthin");
  after(() => rmSync(dir, { recursive: true, force: true }));
  scenario("lvmthin", () => dir, {
    "lvmthin.thinpool": process.env.HOOD_TEST_THINPOOL ?? "",
    "lvmthin.size": "256M",
  });
});
