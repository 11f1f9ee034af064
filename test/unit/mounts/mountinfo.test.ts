import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatPropagation,
  mountTree,
  parseMountinfo,
  parseMountinfoLine,
  propagationType,
  unescapeField,
} from "../../../src/linux/mountinfo.ts";

const SAMPLE = [
  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
  "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "40 22 0:48 /data /mnt/my\\040volume rw,relatime shared:7 master:3 - tmpfs tmpfs rw,size=4k",
  "41 40 0:49 / /mnt/my\\040volume/sub ro,relatime master:7 propagate_from:3 - tmpfs none ro",
  "42 22 0:50 / /u rw unbindable - tmpfs tmpfs rw",
  "",
].join("\n");

describe("mountinfo", () => {
  it("reads every field of a line", () => {
    const m = parseMountinfoLine(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
    );
    assert.deepEqual(m, {
      id: 36,
      parent: 35,
      major: 98,
      minor: 0,
      root: "/mnt1",
      mountPoint: "/mnt2",
      options: ["rw", "noatime"],
      propagation: { unbindable: false, master: 1 },
      optional: ["master:1"],
      fsType: "ext3",
      source: "/dev/root",
      superOptions: ["rw", "errors=continue"],
    });
  });

  it("reads the propagation fields, unknown optional fields kept raw", () => {
    const [root, proc, vol, sub, u] = parseMountinfo(SAMPLE);
    assert.deepEqual(root?.propagation, { unbindable: false, shared: 1 });
    assert.deepEqual(proc?.propagation, { unbindable: false });
    assert.deepEqual(vol?.propagation, { unbindable: false, shared: 7, master: 3 });
    assert.deepEqual(sub?.propagation, { unbindable: false, master: 7, propagateFrom: 3 });
    assert.deepEqual(u?.propagation, { unbindable: true });
    const odd = parseMountinfoLine("1 0 0:1 / / rw future:9 shared:2 - t s rw");
    assert.deepEqual(odd.optional, ["future:9", "shared:2"]);
    assert.equal(odd.propagation.shared, 2);
  });

  it("undoes the kernel's octal escapes", () => {
    assert.equal(unescapeField("/a\\040b\\011c\\012d\\134e"), "/a b\tc\nd\\e");
    assert.equal(parseMountinfo(SAMPLE)[2]?.mountPoint, "/mnt/my volume");
  });

  it("names propagation as findmnt does and prints it back", () => {
    const [root, proc, vol, sub, u] = parseMountinfo(SAMPLE).map((m) => m.propagation);
    assert.deepEqual(
      [root, proc, vol, sub, u].map((p) => propagationType(p!)),
      ["shared", "private", "shared,slave", "slave", "unbindable"],
    );
    assert.equal(formatPropagation(vol!), "shared:7 master:3");
    assert.equal(formatPropagation(sub!), "master:7 propagate_from:3");
    assert.equal(formatPropagation(proc!), "private");
  });

  it("builds the tree by parent id, keeping mount order", () => {
    const tree = mountTree(parseMountinfo(SAMPLE));
    assert.equal(tree.length, 1);
    assert.deepEqual(
      tree[0]?.children.map((c) => c.mountPoint),
      ["/proc", "/mnt/my volume", "/u"],
    );
    assert.deepEqual(
      tree[0]?.children[1]?.children.map((c) => c.id),
      [41],
    );
  });

  it("rejects malformed lines with the line number", () => {
    assert.throws(() => parseMountinfo("1 0 0:1 / / rw - t"), /line 1: want at least 10 fields/);
    assert.throws(() => parseMountinfo("x\n1 0 0:1 / / rw shared:q - t s rw"), /line 1/);
    assert.throws(() => parseMountinfo("1 0 0:1 / / rw shared:q - t s rw"), /peer group "q"/);
    assert.throws(() => parseMountinfo("1 0 01 / / rw - t s rw"), /major:minor/);
  });
});
