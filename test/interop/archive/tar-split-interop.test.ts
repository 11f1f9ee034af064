/**
 * tar-split compatibility with Debian's Go `tar-split` binary, both ways: hood's metadata is
 * the same JSON Go writes, Go's `asm` rebuilds the archive from hood's metadata, and hood's
 * `asm` rebuilds it from Go's. Sparse files, which Go rebuilds wrongly, hood rebuilds exactly.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { extractLayer } from "../../../src/archive/extract.ts";
import { main } from "../../../src/cli/tar-split.ts";
import { type Fixtures, isSparseFixture, makeFixtures } from "./fixtures.ts";

const haveGo = spawnSync("tar-split", ["--version"]).status === 0;
let fx: Fixtures;
before(() => {
  fx = makeFixtures();
});
after(() => fx?.cleanup());

function goDisasm(tar: string, meta: string): void {
  execFileSync(
    "sh",
    ["-c", `tar-split disasm --no-stdout --output "$1" - < "$2"`, "sh", meta, tar],
    {
      stdio: "ignore",
    },
  );
}

function goAsm(meta: string, dir: string): Buffer {
  return execFileSync("tar-split", ["asm", "--input", meta, "--path", dir], {
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

describe("tar-split interop with Go's tar-split", {
  skip: haveGo ? false : "tar-split not installed",
}, () => {
  it("one-pass extraction records the same metadata Go's disasm writes (non-sparse)", async () => {
    for (const a of fx.archives.filter((n) => !isSparseFixture(n))) {
      const tar = join(fx.dir, a);
      const goMeta = join(fx.dir, `${a}.go.gz`);
      goDisasm(tar, goMeta);
      const dir = join(fx.dir, `x-${a}`);
      mkdirSync(dir);
      let text = "";
      await extractLayer(createReadStream(tar), dir, {
        split: async (t) => {
          text += t;
        },
      });
      assert.equal(text, gunzipSync(readFileSync(goMeta)).toString(), a);
      rmSync(dir, { recursive: true });
    }
  });

  it("Go asm rebuilds the exact archive from hood's metadata, and hood asm from Go's", async () => {
    for (const a of fx.archives.filter((n) => !isSparseFixture(n))) {
      const tar = join(fx.dir, a);
      const original = readFileSync(tar);
      const dir = join(fx.dir, `y-${a}`);
      mkdirSync(dir);
      const hoodMeta = join(fx.dir, `${a}.hood.gz`);
      const goMeta = join(fx.dir, `${a}.go2.gz`);
      goDisasm(tar, goMeta);
      assert.equal(await main(["disasm", "--output", hoodMeta, "--no-stdout", tar]), 0);
      execFileSync("tar", ["-xpf", tar, "-C", dir], { stdio: "ignore" });
      assert.ok(goAsm(hoodMeta, dir).equals(original), `go asm of hood metadata: ${a}`);
      const out = join(fx.dir, `${a}.rebuilt`);
      assert.equal(await main(["asm", "--input", goMeta, "--path", dir, "--output", out]), 0);
      assert.ok(readFileSync(out).equals(original), `hood asm of go metadata: ${a}`);
      rmSync(dir, { recursive: true });
    }
  });

  it("sparse files: hood rebuilds them exactly where Go's round trip does not", async () => {
    for (const a of fx.archives.filter(isSparseFixture)) {
      const tar = join(fx.dir, a);
      const original = readFileSync(tar);
      const dir = join(fx.dir, `s-${a}`);
      mkdirSync(dir);
      const meta = join(fx.dir, `${a}.hood.gz`);
      let text = "";
      await extractLayer(createReadStream(tar), dir, {
        split: async (t) => {
          text += t;
        },
      });
      assert.ok(text.length > 0);
      assert.equal(await main(["disasm", "--output", meta, "--no-stdout", tar]), 0);
      const out = join(fx.dir, `${a}.rebuilt`);
      assert.equal(await main(["asm", "--input", meta, "--path", dir, "--output", out]), 0);
      assert.ok(readFileSync(out).equals(original), `hood round trip ${a}`);
      assert.ok(goAsm(meta, dir).equals(original), `go asm of hood's sparse metadata ${a}`);
      // Go's own round trip of the same archive gives other bytes...
      const goMeta = join(fx.dir, `${a}.go.gz`);
      goDisasm(tar, goMeta);
      let goBytes: Buffer | undefined;
      try {
        goBytes = goAsm(goMeta, dir);
      } catch {
        goBytes = undefined;
      }
      assert.ok(!goBytes?.equals(original), `go tar-split is expected to fail on ${a}`);
      // ...and hood refuses Go's sparse metadata instead of writing wrong bytes.
      const bad = join(fx.dir, `${a}.bad`);
      assert.equal(await main(["asm", "--input", goMeta, "--path", dir, "--output", bad]), 1);
      assert.equal(existsSync(bad), false);
      rmSync(dir, { recursive: true });
    }
  });

  it("checksize reports the entry count", async () => {
    assert.equal(await main(["checksize", join(fx.dir, "py-pax.tar")]), 0);
  });
});
