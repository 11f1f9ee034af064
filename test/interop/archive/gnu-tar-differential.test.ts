/**
 * Differential against GNU tar: archives written by Python's tarfile and GNU tar (every format
 * feature hood reads) are listed and extracted by hood and by GNU tar, and must agree.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { extractLayer } from "../../../src/archive/extract.ts";
import { TarReader } from "../../../src/archive/tar-reader.ts";
import { type Fixtures, makeFixtures } from "./fixtures.ts";
import { snapshot } from "./tree.ts";

let fx: Fixtures;
before(() => {
  fx = makeFixtures();
});
after(() => fx.cleanup());

async function hoodNames(path: string): Promise<string[]> {
  const r = new TarReader(createReadStream(path));
  const names: string[] = [];
  for (;;) {
    const e = await r.next();
    if (!e) break;
    if (e.header.kind !== "global") names.push(e.header.name.toString("latin1"));
  }
  return names;
}

function gnuNames(path: string): string[] {
  const out = execFileSync("tar", ["--quoting-style=literal", "-tf", path], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return out
    .toString("latin1")
    .split("\n")
    .filter((l) => l !== "");
}

describe("hood and GNU tar agree", () => {
  it("on the member names of every fixture", async () => {
    for (const a of fx.archives) {
      const path = join(fx.dir, a);
      assert.deepEqual(await hoodNames(path), gnuNames(path), a);
    }
  });

  it("on the extracted tree of every fixture (modes, owners, times, contents, links, devices)", async () => {
    for (const a of fx.archives) {
      const g = join(fx.dir, `x-gnu-${a}`);
      const h = join(fx.dir, `x-hood-${a}`);
      mkdirSync(g);
      mkdirSync(h);
      execFileSync("tar", ["--same-owner", "-xpf", join(fx.dir, a), "-C", g], { stdio: "ignore" });
      const r = await extractLayer(createReadStream(join(fx.dir, a)), h);
      assert.ok(r.entries > 0);
      assert.deepEqual(snapshot(h), snapshot(g), a);
      rmSync(g, { recursive: true });
      rmSync(h, { recursive: true });
    }
  });

  it("reads sub-second PAX times, xattrs (SCHILY and LIBARCHIVE) and long user names", async () => {
    const r = new TarReader(createReadStream(join(fx.dir, "py-pax-extra.tar")));
    const seen = new Map<string, import("../../../src/archive/tar-header.ts").TarHeader>();
    for (;;) {
      const e = await r.next();
      if (!e) break;
      seen.set(e.header.name.toString(), e.header);
    }
    const x = seen.get("x/xattr")!;
    assert.deepEqual(x.mtime, { sec: 1700000000, nsec: 123456789 });
    assert.deepEqual(x.atime, { sec: 1700000001, nsec: 500000000 });
    assert.equal(x.xattrs.get("user.greeting")?.toString(), "hi");
    assert.deepEqual(x.xattrs.get("user.b64"), Buffer.from("\x00\x01bin", "latin1"));
    assert.equal(seen.get("x/longuser")!.uname, "u".repeat(40));
    assert.equal(seen.get("pax_global_header")?.kind ?? "global", "global");
  });

  it("reads every sparse flavour to the same bytes GNU tar extracts", async () => {
    for (const a of fx.archives.filter((n) => n.includes("sparse"))) {
      const r = new TarReader(createReadStream(join(fx.dir, a)));
      let sparse: import("../../../src/archive/tar-header.ts").SparseInfo | undefined;
      for (;;) {
        const e = await r.next();
        if (!e) break;
        if (e.header.name.toString().endsWith("sparse")) sparse = e.header.sparse;
      }
      assert.ok(sparse, `${a}: sparse entry found`);
      assert.equal(sparse.realSize, 2 << 20, a);
      assert.ok(sparse.map.length >= 2, a);
    }
  });
});
