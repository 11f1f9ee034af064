import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitGlobals } from "../../../src/cli/storage.ts";
import { FS_MAGIC } from "../../../src/storage/native.ts";
import {
  checkDriverName,
  driverForFilesystem,
  optionsFor,
} from "../../../src/storage/select-driver.ts";
import { parseSize } from "../../../src/storage/size.ts";

describe("driver selection", () => {
  it("picks btrfs on btrfs, overlay on ext4, xfs and tmpfs, vfs on overlayfs", () => {
    assert.equal(driverForFilesystem(FS_MAGIC.BTRFS), "btrfs");
    assert.equal(driverForFilesystem(FS_MAGIC.EXT4), "overlay");
    assert.equal(driverForFilesystem(FS_MAGIC.XFS), "overlay");
    assert.equal(driverForFilesystem(FS_MAGIC.TMPFS), "overlay");
    assert.equal(driverForFilesystem(FS_MAGIC.OVERLAY), "vfs");
  });

  it("names the drivers it knows when given another", () => {
    assert.equal(checkDriverName("lvmthin"), "lvmthin");
    assert.throws(() => checkDriverName("zfs"), /want one of overlay, btrfs, lvmthin, vfs/);
  });

  it("gives each driver its own options without the prefix", () => {
    assert.deepEqual(optionsFor("btrfs", { "btrfs.size": "1G", "overlay.x": "y" }), { size: "1G" });
  });

  it("reads sizes with binary units", () => {
    assert.equal(parseSize("10G", "s"), 10 * 2 ** 30);
    assert.equal(parseSize("512m", "s"), 512 * 2 ** 20);
    assert.equal(parseSize("1.5k", "s"), 1536);
    assert.equal(parseSize("4096", "s"), 4096);
    assert.equal(parseSize("2GiB", "s"), 2 * 2 ** 30);
    for (const bad of ["", "G", "-1", "1x", "0"])
      assert.throws(() => parseSize(bad, "s"), { code: "USAGE" }, bad);
  });
});

describe("hood storage options", () => {
  it("takes the store options before or after the command", () => {
    const { globals, rest } = splitGlobals([
      "--storage-root",
      "/x",
      "import-layer",
      "--storage-driver=vfs",
      "--parent",
      "abc",
      "--json",
      "--storage-opt",
      "vfs.a=b=c",
      "-",
    ]);
    assert.deepEqual(globals, {
      root: "/x",
      driver: "vfs",
      options: { "vfs.a": "b=c" },
      json: true,
    });
    assert.deepEqual(rest, ["import-layer", "--parent", "abc", "-"]);
  });

  it("refuses an unknown driver and an option without its value", () => {
    assert.throws(() => splitGlobals(["--storage-driver", "zfs"]), /want one of/);
    assert.throws(() => splitGlobals(["ls", "--storage-root"]), /needs a value/);
    assert.throws(() => splitGlobals(["--storage-opt", "novalue"]), /KEY=VALUE/);
  });
});
