/**
 * Layer extraction as root on the real kernel: ownership, modes, devices, xattrs including
 * security.capability, OCI whiteouts applied or converted to overlayfs whiteouts, and the
 * reverse conversion from a real overlay upper dir back to a layer tar.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { extractLayer, extractTar } from "../../../src/archive/extract.ts";
import { fsat, O } from "../../../src/archive/fsat.ts";
import { layerFromUpperDir } from "../../../src/archive/overlay-diff.ts";
import { buildTar, chunks, readAll } from "../../unit/archive/helpers.ts";

const root = process.geteuid?.() === 0;
const base = mkdtempSync(join(tmpdir(), "hood-layers-"));
after(() => {
  try {
    execFileSync("umount", ["-l", join(base, "merged")], { stdio: "ignore" });
  } catch {}
  rmSync(base, { recursive: true, force: true });
});

function xattr(path: string, name: string): Buffer | null {
  const fd = fsat().fsatOpen(-100, path, O.PATH | O.NOFOLLOW, 0, 0);
  try {
    return fsat().fsatGetxattr(fd, name);
  } finally {
    closeSync(fd);
  }
}

describe("layer extraction as root", { skip: root ? false : "needs root" }, () => {
  it("applies owners, modes, times, devices and xattrs (security.capability too)", async () => {
    const cap = Buffer.from("0100000200200000000000000000000000000000", "hex"); // cap_net_bind_service
    const tar = await buildTar([
      {
        name: "bin/",
        kind: "directory",
        edit: (h) => {
          h.uid = 7;
          h.gid = 8;
          h.mode = 0o750;
        },
      },
      {
        name: "bin/ping",
        data: Buffer.from("#!/bin/true\n"),
        edit: (h) => {
          h.uid = 1000;
          h.gid = 1001;
          h.mode = 0o4755;
          h.mtime = { sec: 1600000000, nsec: 123456789 };
          h.xattrs.set("security.capability", cap);
          h.xattrs.set("user.note", Buffer.from("hi"));
        },
      },
      {
        name: "dev/null",
        kind: "char",
        edit: (h) => {
          h.devmajor = 1;
          h.devminor = 3;
          h.mode = 0o666;
        },
      },
      {
        name: "dev/loop9",
        kind: "block",
        edit: (h) => {
          h.devmajor = 7;
          h.devminor = 9;
        },
      },
      { name: "run/fifo", kind: "fifo" },
      {
        name: "bin/link",
        kind: "symlink",
        edit: (h) => {
          h.linkname = Buffer.from("ping");
          h.uid = 5;
        },
      },
    ]);
    const dir = join(base, "a");
    mkdirSync(dir);
    const r = await extractLayer(chunks(tar, 4096), dir);
    assert.deepEqual(r.warnings, []);
    const ping = lstatSync(join(dir, "bin/ping"), { bigint: true });
    assert.equal(ping.uid, 1000n);
    assert.equal(ping.gid, 1001n);
    assert.equal(Number(ping.mode & 0o7777n), 0o4755);
    assert.equal(ping.mtimeNs, 1600000000123456789n);
    assert.deepEqual(xattr(join(dir, "bin/ping"), "security.capability"), cap);
    assert.equal(xattr(join(dir, "bin/ping"), "user.note")?.toString(), "hi");
    const bin = lstatSync(join(dir, "bin"));
    assert.equal(bin.uid, 7);
    assert.equal(bin.mode & 0o7777, 0o750);
    const nul = lstatSync(join(dir, "dev/null"));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.ok(lstatSync(join(dir, "dev/loop9")).isBlockDevice());
    assert.ok(lstatSync(join(dir, "run/fifo")).isFIFO());
    assert.equal(lstatSync(join(dir, "bin/link")).uid, 5);
  });

  it("applies OCI whiteouts on a plain directory, keeping this layer's own entries", async () => {
    const dir = join(base, "b");
    mkdirSync(join(dir, "etc/old"), { recursive: true });
    writeFileSync(join(dir, "etc/old/x"), "lower");
    writeFileSync(join(dir, "etc/gone"), "lower");
    mkdirSync(join(dir, "opq"));
    writeFileSync(join(dir, "opq/lower"), "lower");
    const tar = await buildTar([
      { name: "etc/.wh.gone" },
      { name: "etc/.wh.old" },
      { name: "opq/new", data: Buffer.from("upper") },
      { name: "opq/.wh..wh..opq" },
    ]);
    await extractTar(chunks(tar), dir, { whiteouts: "apply" });
    assert.deepEqual(readdirSync(join(dir, "etc")), []);
    assert.deepEqual(readdirSync(join(dir, "opq")), ["new"]);
  });

  it("converts whiteouts to overlay's, and an overlay upper dir back to the same layer", async () => {
    const lower = join(base, "lower");
    const upper = join(base, "upper");
    const work = join(base, "work");
    const merged = join(base, "merged");
    for (const d of [lower, upper, work, merged]) mkdirSync(d);
    const layer = await buildTar([
      { name: "keep", data: Buffer.from("k") },
      { name: "gone", data: Buffer.from("g") },
      { name: "dir/", kind: "directory" },
      { name: "dir/a", data: Buffer.from("a") },
    ]);
    await extractTar(chunks(layer), lower, { whiteouts: "overlay" });
    // A second layer with whiteouts, extracted as an overlay lower layer.
    const l2 = join(base, "lower2");
    mkdirSync(l2);
    const layer2 = await buildTar([
      { name: ".wh.gone" },
      { name: "dir/", kind: "directory" },
      { name: "dir/.wh..wh..opq" },
      { name: "dir/b", data: Buffer.from("b") },
    ]);
    await extractTar(chunks(layer2), l2, { whiteouts: "overlay" });
    const wh = lstatSync(join(l2, "gone"));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(xattr(join(l2, "dir"), "trusted.overlay.opaque")?.toString(), "y");
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${l2}:${lower},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off`,
      merged,
    ]);
    try {
      assert.deepEqual(readdirSync(merged).sort(), ["dir", "keep"]);
      assert.deepEqual(readdirSync(join(merged, "dir")), ["b"]);
      // Changes in the container: delete, replace a dir's contents, add.
      rmSync(join(merged, "keep"));
      rmSync(join(merged, "dir"), { recursive: true });
      mkdirSync(join(merged, "dir"));
      writeFileSync(join(merged, "dir/c"), "c");
      writeFileSync(join(merged, "new"), "n");
    } finally {
      execFileSync("umount", [merged]);
    }
    const parts: Buffer[] = [];
    await layerFromUpperDir(upper, (c) => {
      parts.push(Buffer.from(c));
    });
    const names = (await readAll(Buffer.concat(parts))).entries.map((e) =>
      e.entry.header.name.toString(),
    );
    // Walked in on-disk name order: dir, keep (a whiteout), new.
    assert.deepEqual(names, ["dir/", "dir/.wh..wh..opq", "dir/c", ".wh.keep", "new"]);
    // Applying the diff onto a flattened copy gives what the container saw.
    const flat = join(base, "flat");
    mkdirSync(flat);
    await extractTar(chunks(layer), flat, { whiteouts: "apply" });
    await extractTar(chunks(layer2), flat, { whiteouts: "apply" });
    await extractTar(chunks(Buffer.concat(parts)), flat, { whiteouts: "apply" });
    assert.deepEqual(readdirSync(flat).sort(), ["dir", "new"]);
    assert.deepEqual(readdirSync(join(flat, "dir")), ["c"]);
    assert.equal(readFileSync(join(flat, "new"), "utf8"), "n");
  });
});
