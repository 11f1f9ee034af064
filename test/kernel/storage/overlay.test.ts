/**
 * overlay specifics: 500 layers with long paths through fsconfig(lowerdir+), the explicit
 * 4095-byte check of the mount(2) fallback, shared-inode whiteouts in the upper dir, and the
 * full comparison when the upper dir has redirect xattrs.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TarReader } from "../../../src/archive/index.ts";
import {
  legacyOverlayOptions,
  mountOverlay,
  type OverlayMountSpec,
} from "../../../src/storage/drivers/overlay.ts";
import { LayerStore } from "../../../src/storage/index.ts";
import { isMountPoint, unmountAll } from "../../../src/storage/mounts.ts";
import {
  applyLayers,
  isRoot,
  makeFixture,
  manifest,
  readChunks,
  tempDir,
  unmountBelow,
} from "./helpers.ts";

async function tarNames(tar: Buffer): Promise<{ name: string; kind: string }[]> {
  const r = new TarReader(
    (async function* () {
      yield tar;
    })(),
  );
  const out: { name: string; kind: string }[] = [];
  for (;;) {
    const e = await r.next();
    if (!e) return out;
    out.push({ name: e.header.name.toString(), kind: e.header.kind });
    while (await r.read()) {}
  }
}

async function collect(fn: (sink: (b: Buffer) => void) => Promise<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  await fn((b) => {
    parts.push(Buffer.from(b));
  });
  return Buffer.concat(parts);
}

describe("overlay mounts", { skip: isRoot ? false : "needs root" }, () => {
  let dir: string;
  before(() => {
    dir = tempDir("overlay-mount");
  });
  after(() => {
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  /** 500 lower dirs under a long path: the legacy option string would be ~130 KB. */
  function manyLowers(): OverlayMountSpec {
    const base = join(dir, "a-long-directory-name-".repeat(5), "layers");
    const lowers: string[] = [];
    for (let i = 0; i < 500; i++) {
      const l = join(base, `layer-with-a-long-name-${String(i).padStart(4, "0")}`);
      mkdirSync(l, { recursive: true });
      writeFileSync(join(l, `f${i}`), `${i}`);
      writeFileSync(join(l, "top"), `${i}`);
      lowers.unshift(l); // top first: the last one made is on top
    }
    mkdirSync(join(dir, "upper"));
    mkdirSync(join(dir, "work"));
    return {
      lowers,
      upper: join(dir, "upper"),
      work: join(dir, "work"),
      userxattr: false,
      redirectDir: false,
      readonly: false,
    };
  }

  it("mounts 500 layers with long paths through fsconfig lowerdir+", () => {
    const spec = manyLowers();
    const target = join(dir, "merged");
    mkdirSync(target);
    mountOverlay(target, spec);
    try {
      assert.ok(isMountPoint(target));
      for (const i of [0, 1, 250, 498, 499])
        assert.equal(readFileSync(join(target, `f${i}`), "utf8"), `${i}`);
      assert.equal(readFileSync(join(target, "top"), "utf8"), "499", "the first lower is on top");
    } finally {
      unmountAll(target);
    }
    assert.throws(() => legacyOverlayOptions(spec), { code: "OVERLAY_OPTIONS_TOO_LONG" });
    assert.throws(() => mountOverlay(target, spec, true), { code: "OVERLAY_OPTIONS_TOO_LONG" });
    assert.equal(isMountPoint(target), false, "nothing was mounted with a cut option string");
  });
});

describe("overlay driver diffs", { skip: isRoot ? false : "needs root" }, () => {
  let dir: string;
  const fx = isRoot ? makeFixture() : undefined;
  before(() => {
    dir = tempDir("overlay-diff");
  });
  after(() => {
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  it("writes shared-inode whiteouts as .wh. entries, never as hard links", async () => {
    const store = await LayerStore.open({ root: join(dir, "s1"), driver: "overlay" });
    const base = await store.importLayer(readChunks(fx!.basePath));
    const c = await store.createContainer("w", base.layer.id);
    for (const f of ["etc/hostname", "opt/keep", "var/lib/app/data"]) unlinkSync(join(c.path, f));
    const names = await tarNames(await collect((s) => store.diff("w", s)));
    const wh = names.filter((n) => n.name.includes(".wh."));
    assert.deepEqual(
      wh.map((n) => [n.name, n.kind]),
      [
        ["etc/.wh.hostname", "file"],
        ["opt/.wh.keep", "file"],
        ["var/lib/app/.wh.data", "file"],
      ],
    );
    assert.ok(!names.some((n) => n.kind === "hardlink"));
    await store.remove("w");
  });

  it("falls back to comparing whole trees when the upper dir has redirects", async () => {
    const warnings: string[] = [];
    const store = await LayerStore.open({
      root: join(dir, "s2"),
      driver: "overlay",
      options: { "overlay.redirect_dir": "on" },
      warn: (m) => warnings.push(m),
    });
    const base = await store.importLayer(readChunks(fx!.basePath));
    const child = await store.importLayer(readChunks(fx!.childGzPath), base.layer.id);
    const c = await store.createContainer("r", child.layer.id);
    renameSync(join(c.path, "var/lib"), join(c.path, "var/moved")); // a redirect xattr
    writeFileSync(join(c.path, "var/moved/app/new"), "n\n");
    const view = manifest(c.path);
    const diff = await collect((s) => store.diff("r", s));
    assert.ok(
      warnings.some((w) => /overlay\.redirect/.test(w)),
      warnings.join("\n"),
    );
    const ref = join(dir, "ref");
    await applyLayers(ref, [fx!.base, fx!.child, diff]);
    assert.deepEqual(manifest(ref), view);
    await store.remove("r");
    assert.ok(!isMountPoint(c.path));
  });

  it("mounts a container on a chain of 150 layers (over 15 KB of lower paths)", async () => {
    const store = await LayerStore.open({ root: join(dir, "s3"), driver: "overlay" });
    const work = join(dir, "layers");
    mkdirSync(work);
    let parent: string | undefined;
    const { execFileSync } = await import("node:child_process");
    for (let i = 0; i < 150; i++) {
      const l = join(work, String(i));
      mkdirSync(l);
      writeFileSync(join(l, `f${i}`), `${i}`);
      writeFileSync(join(l, "top"), `${i}`);
      const tar = join(work, `${i}.tar`);
      execFileSync("tar", ["-C", l, "-cf", tar, "."]);
      parent = (await store.importLayer(readChunks(tar), parent)).layer.id;
    }
    const c = await store.createContainer("deep", parent!);
    assert.equal(readFileSync(join(c.path, "top"), "utf8"), "149");
    assert.equal(readFileSync(join(c.path, "f0"), "utf8"), "0");
    await store.remove("deep");
  });
});
