import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  knownMountOptionWords,
  MOUNT_ATTR,
  MS,
  parseMountOptions,
  recursiveAttrsOf,
  rootfsPropagationFlags,
} from "../../../src/setup/mount-options.ts";

describe("mount options", () => {
  it("keeps propagation words in order, separate from the flags", () => {
    const o = parseMountOptions(["rbind", "ro", "rslave", "shared"]);
    assert.equal(o.flags, MS.BIND | MS.REC | MS.RDONLY);
    assert.deepEqual(o.propagation, [MS.SLAVE | MS.REC, MS.SHARED]);
  });

  it("turns the recursive words into mount_setattr sets and clears, the last word winning", () => {
    const o = parseMountOptions(["rro", "rnosuid", "rsuid", "rnoexec"]);
    assert.equal(o.recAttrSet, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOEXEC);
    assert.equal(o.recAttrClear, MOUNT_ATTR.NOSUID);
    assert.equal(o.data, "");
  });

  it("sets an access-time mode together with a clear of the whole field", () => {
    // mount_setattr(2) refuses an atime mode in attr_set without MOUNT_ATTR__ATIME in attr_clr.
    const noatime = parseMountOptions(["rnoatime"]);
    assert.equal(noatime.recAttrSet, MOUNT_ATTR.NOATIME);
    assert.equal(noatime.recAttrClear, MOUNT_ATTR._ATIME);
    const back = parseMountOptions(["rnoatime", "ratime"]);
    assert.equal(back.recAttrSet & MOUNT_ATTR._ATIME, MOUNT_ATTR.RELATIME);
    assert.equal(back.recAttrClear, MOUNT_ATTR._ATIME);
    assert.equal(parseMountOptions(["rnorelatime"]).recAttrSet, MOUNT_ATTR.STRICTATIME);
  });

  it("maps the restricting flags of a recursive bind to attributes", () => {
    assert.equal(
      recursiveAttrsOf(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME),
      MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC,
    );
    assert.equal(recursiveAttrsOf(MS.RELATIME | MS.NOATIME), 0);
  });

  it("reads idmap and ridmap", () => {
    assert.equal(parseMountOptions(["bind", "idmap"]).idmap, "idmap");
    assert.equal(parseMountOptions(["rbind", "ridmap"]).idmap, "ridmap");
    assert.equal(parseMountOptions(["bind"]).idmap, "");
  });

  it("defaults rootfsPropagation to rslave, as runc", () => {
    assert.equal(rootfsPropagationFlags(undefined), MS.SLAVE | MS.REC);
    assert.equal(rootfsPropagationFlags(""), MS.SLAVE | MS.REC);
    assert.equal(rootfsPropagationFlags("unbindable"), MS.UNBINDABLE);
    assert.throws(() => rootfsPropagationFlags("sideways"), /unknown rootfsPropagation "sideways"/);
  });

  it("lists every word it applies for hood features", () => {
    const words = knownMountOptionWords();
    for (const w of [
      "ro",
      "rbind",
      "rshared",
      "runbindable",
      "rro",
      "rnoatime",
      "idmap",
      "ridmap",
    ]) {
      assert.ok(words.includes(w), w);
    }
    assert.deepEqual(words, [...words].sort());
  });
});
