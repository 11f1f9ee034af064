/** `hood storage` end to end through the bundled CLI, with the exact command lines. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { compress } from "../../../src/archive/index.ts";
import { HOOD } from "../../helpers/hood.ts";
import {
  type Fixture,
  isRoot,
  makeFixture,
  mountsBelow,
  readChunks,
  sha256,
  tempDir,
  unmountBelow,
} from "./helpers.ts";

describe("hood storage", { skip: isRoot ? false : "needs root" }, () => {
  let dir: string;
  let fx: Fixture;
  let root: string;
  const hood = (args: string[], input?: Buffer) => {
    const r = spawnSync(process.execPath, [HOOD, "storage", "--storage-root", root, ...args], {
      input,
      maxBuffer: 64 << 20,
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
  };
  const ok = (args: string[], input?: Buffer) => {
    const r = hood(args, input);
    assert.equal(r.status, 0, `hood storage ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  before(() => {
    dir = tempDir("cli");
    root = join(dir, "store");
    fx = makeFixture();
  });
  after(() => {
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  });

  it("imports, exports, creates, diffs, commits, lists, inspects, removes and prunes", async () => {
    const zst: Buffer[] = [];
    for await (const c of compress(readChunks(fx.basePath), "zstd")) zst.push(c);
    const base = ok(["--storage-driver", "overlay", "import-layer", "-"], Buffer.concat(zst))
      .toString()
      .trim();
    assert.equal(`sha256:${base}`, sha256(fx.base));
    const child = ok(["import-layer", "--parent", base.slice(0, 12), fx.childGzPath])
      .toString()
      .trim();
    assert.deepEqual(ok(["export-layer", base]), fx.base);
    const out = join(dir, "child.tar");
    ok(["export-layer", child, "-o", out]);
    assert.deepEqual(readFileSync(out), fx.child);

    const path = ok(["create", "web", "--layer", child]).toString().trim();
    assert.ok(mountsBelow(root).includes(path), "the rootfs is mounted");
    writeFileSync(join(path, "etc/hostname"), "web\n");
    const diffFile = join(dir, "diff.tar");
    ok(["diff", "web", "-o", diffFile]);
    assert.deepEqual(ok(["diff", "web"]), readFileSync(diffFile));
    const committed = ok(["commit", "web"]).toString().trim();
    assert.equal(
      `sha256:${JSON.parse(ok(["inspect", committed]).toString()).diffId.slice(7)}`,
      sha256(readFileSync(diffFile)),
    );

    const ls = JSON.parse(ok(["ls", "--json"]).toString());
    assert.equal(ls.driver, "overlay");
    assert.deepEqual(
      ls.layers.map((l: { id: string }) => l.id).sort(),
      [base, child, committed].sort(),
    );
    assert.deepEqual(
      ls.containers.map((c: { name: string; mounted: boolean }) => [c.name, c.mounted]),
      [["web", true]],
    );
    const text = ok(["ls"]).toString();
    assert.match(text, /^LAYER\s+PARENT\s+SIZE\s+REFS\s+CREATED/);
    const inspected = JSON.parse(ok(["inspect", "web", "--json"]).toString());
    assert.deepEqual(inspected.chain, [child, base]);

    const busy = JSON.parse(ok(["rm", "--json", child]).toString());
    assert.match(busy[0].kept, /used by/);
    ok(["rm", "web"]);
    assert.deepEqual(mountsBelow(root), []);
    ok(["rm", committed]);
    const pruned = JSON.parse(ok(["prune", "--json"]).toString());
    assert.deepEqual(pruned.layers, [child]);
    ok(["rm", base]);
    assert.deepEqual(JSON.parse(ok(["ls", "--json"]).toString()).layers, []);
    ok(["check"]);
  });

  it("creates without mounting (--no-mount), mounts later, removes", () => {
    const base = ok(["import-layer", fx.basePath]).toString().trim();
    const path = ok(["create", "cold", "--layer", base, "--no-mount"]).toString().trim();
    assert.deepEqual(mountsBelow(root), [], "nothing is mounted");
    const cold = JSON.parse(ok(["ls", "--json"]).toString()).containers;
    assert.deepEqual(
      cold.map((c: { name: string; mounted: boolean }) => [c.name, c.mounted]),
      [["cold", false]],
    );
    assert.equal(ok(["mount", "cold"]).toString().trim(), path);
    assert.deepEqual(mountsBelow(root), [path]);
    assert.equal(readFileSync(join(path, "etc/hostname"), "utf8"), "base\n");
    ok(["rm", "cold"]);
    ok(["create", "never", "--layer", base, "--no-mount"]);
    ok(["rm", "never"]);
    assert.deepEqual(mountsBelow(root), []);
    ok(["rm", base]);
    ok(["check"]);
  });

  it("loads no compression, hashing, stream or child-process code to create and remove", () => {
    const base = ok(["import-layer", fx.basePath]).toString().trim();
    const probe = join(dir, "modules.cjs");
    writeFileSync(
      probe,
      'const b = new Set(process.moduleLoadList); process.on("exit", () => require("fs").writeFileSync(process.env.HOOD_MODULES_OUT, process.moduleLoadList.filter((m) => !b.has(m)).join("\\n")));',
    );
    for (const args of [
      ["create", "lean", "--layer", base],
      ["rm", "lean"],
    ]) {
      const out = join(dir, "modules.txt");
      const r = spawnSync(
        process.execPath,
        ["-r", probe, HOOD, "storage", "--storage-root", root, ...args],
        { env: { ...process.env, HOOD_MODULES_OUT: out }, encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      const loaded = readFileSync(out, "utf8").split("\n");
      for (const m of ["zlib", "crypto", "stream", "child_process"]) {
        assert.deepEqual(
          loaded.filter((x) => x === `NativeModule ${m}`),
          [],
          `hood storage ${args[0]} loads node:${m}`,
        );
      }
    }
    ok(["rm", base]);
  });

  it("says what is wrong, with exit codes", () => {
    const missing = hood(["export-layer", "0123456789ab"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /layer "0123456789ab": no such layer/);
    const wrong = hood(["--storage-driver", "vfs", "ls"]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /uses driver overlay, not vfs/);
    assert.equal(hood(["frobnicate"]).status, 2);
    const bad = hood(["import-layer", join(dir, "nope.tar")]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /ENOENT/);
    assert.deepEqual(JSON.parse(ok(["check", "--json"]).toString()).problems, []);
  });
});
