import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CLONE } from "../../../src/linux/namespaces.ts";
import type { Mount, Spec } from "../../../src/oci/runtime-spec.ts";
import { compileInit } from "../../../src/setup/compile.ts";
import { AT_RECURSIVE, MOUNT_ATTR, MS } from "../../../src/setup/mount-options.ts";
import { encodeProgram, MOUNT_HOW, type Step } from "../../../src/setup/program.ts";
import { compileOptions } from "../../helpers/compile-options.ts";

const options = compileOptions;

const index = (steps: Step[], pred: (s: Step) => boolean) => steps.findIndex(pred);
const lastIndex = (steps: Step[], pred: (s: Step) => boolean) =>
  steps.length - 1 - [...steps].reverse().findIndex(pred);
const mountOn = (target: string) => (s: Step) => s.op === "mount" && s.args.target === target;
/** The flags of a mount step. */
const flagsOf = (s: Step | undefined) => (s?.op === "mount" ? s.args.flags : undefined);
const volume = (extra: Partial<Mount> = {}): Mount => ({
  destination: "/data",
  type: "bind",
  source: "/srv/data",
  options: ["rbind"],
  ...extra,
});
const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
};

describe("rootfs propagation", () => {
  it("slaves the host tree, privatizes the rootfs's mount, then binds the rootfs", () => {
    const { steps } = compileInit(options());
    const host = index(steps, mountOn("/"));
    const priv = index(steps, (s) => s.op === "privatize-mount");
    const bind = index(steps, mountOn("/b/rootfs"));
    assert.ok(host >= 0 && host < priv && priv < bind, `${host} < ${priv} < ${bind}`);
    const first = steps[host]!;
    assert.ok(first.op === "mount");
    assert.equal(first.args.flags, MS.SLAVE | MS.REC);
    assert.equal(first.args.how, MOUNT_HOW.SOURCE_NULL);
    assert.deepEqual(steps[priv]?.args, { path: "/b/rootfs" });
    // Without rootfsPropagation nothing is applied to the new root after pivot_root.
    const pivot = index(steps, (s) => s.op === "pivot-root");
    assert.equal(index(steps.slice(pivot), mountOn("/")), -1);
  });

  it("applies rootfsPropagation to the new root after pivot_root and after masking", () => {
    const { steps } = compileInit(options((s) => (s.linux!.rootfsPropagation = "shared")));
    const pivot = index(steps, (s) => s.op === "pivot-root");
    const lastMask = lastIndex(steps, (s) => s.op === "mask-path");
    const post = lastIndex(steps, mountOn("/"));
    assert.ok(pivot < lastMask && lastMask < post, `${pivot} < ${lastMask} < ${post}`);
    const step = steps[post]!;
    assert.ok(step.op === "mount");
    assert.equal(step.args.flags, MS.SHARED);
    assert.equal(step.args.how, MOUNT_HOW.SOURCE_NULL);
    assert.equal(flagsOf(steps[index(steps, mountOn("/"))]), MS.SHARED);
  });

  it("keeps the host tree bindable when the container's tree is to be unbindable", () => {
    const { steps } = compileInit(options((s) => (s.linux!.rootfsPropagation = "runbindable")));
    assert.equal(flagsOf(steps[index(steps, mountOn("/"))]), MS.PRIVATE | MS.REC);
    assert.equal(flagsOf(steps[lastIndex(steps, mountOn("/"))]), MS.UNBINDABLE | MS.REC);
  });

  it("applies a mount's own propagation words after the root's, so that they win", () => {
    const { steps } = compileInit(
      options((s) => {
        s.linux!.rootfsPropagation = "rslave";
        s.mounts!.push(volume({ options: ["rbind", "rshared", "unbindable"] }));
      }),
    );
    const data = steps.filter(mountOn("/data"));
    assert.deepEqual(
      data.map((s) => s.op === "mount" && s.args.flags),
      [MS.BIND | MS.REC, MS.SHARED | MS.REC, MS.UNBINDABLE],
    );
    const root = lastIndex(steps, mountOn("/"));
    const firstProp = index(steps, (s) => s === data[1]);
    assert.ok(root < firstProp, "the root's propagation comes first");
    assert.ok(firstProp > index(steps, (s) => s.op === "pivot-root"));
  });
});

describe("recursive attributes", () => {
  it("makes every submount of a recursive read-only bind read-only too", () => {
    const { steps } = compileInit(
      options((s) => s.mounts!.push(volume({ options: ["rbind", "ro", "nosuid", "relatime"] }))),
    );
    const data = steps.filter(
      (s) =>
        (s.op === "mount" && s.args.target === "/data") ||
        (s.op === "mount-setattr" && s.args.path === "/data"),
    );
    assert.deepEqual(
      data.map((s) => s.op),
      ["mount", "mount", "mount-setattr"],
    );
    const [, remount, setattr] = data;
    assert.ok(remount?.op === "mount");
    assert.equal(remount.args.flags, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.RELATIME);
    assert.ok(setattr?.op === "mount-setattr");
    assert.deepEqual(setattr.args, {
      path: "/data",
      flags: AT_RECURSIVE,
      set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID,
      clear: 0,
      propagation: 0,
    });
  });

  it("leaves the submounts of a plain bind alone", () => {
    const { steps } = compileInit(
      options((s) => s.mounts!.push(volume({ options: ["bind", "ro"] }))),
    );
    assert.equal(steps.filter((s) => s.op === "mount-setattr").length, 0);
  });

  it("applies the r-words to any mount, a clear word removing the flag's attribute", () => {
    const { steps } = compileInit(
      options((s) =>
        s.mounts!.push(volume({ options: ["rbind", "ro", "rrw", "rnoexec", "rnoatime"] })),
      ),
    );
    const setattr = steps.find((s) => s.op === "mount-setattr");
    assert.ok(setattr?.op === "mount-setattr");
    assert.equal(setattr.args.set, MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NOATIME);
    assert.equal(setattr.args.clear, MOUNT_ATTR.RDONLY | MOUNT_ATTR._ATIME);
  });
});

describe("id-mapped mounts", () => {
  it("makes the tree first, then enters a new user namespace by unshare", () => {
    const p = compileInit(
      options((s) => {
        userns(s);
        s.mounts!.push(volume({ options: ["rbind", "idmap"] }));
      }),
    );
    assert.equal(p.steps[0]?.op, "idmap-tree");
    assert.deepEqual(p.steps[0]?.args, {
      source: "/srv/data",
      openFlags: AT_RECURSIVE,
      attrFlags: 0,
      uidMap: "0 100000 65536\n",
      gidMap: "0 200000 65536\n",
      slot: 0,
    });
    // clone3 makes no namespace; the executor unshares them after the tree exists.
    assert.equal(p.cloneFlags, 0n);
    assert.equal(p.idmap?.when, "sync");
    assert.equal(p.becomeRoot, false);
    assert.equal(p.forks, true);
    const unshare = p.steps.find((s) => s.op === "unshare");
    assert.ok(unshare?.op === "unshare");
    assert.equal(BigInt(unshare.args.flags), CLONE.NEWUSER);
    const attach = p.steps.find((s) => s.op === "move-mount");
    assert.deepEqual(attach?.args, {
      slot: 0,
      target: "/data",
      how: MOUNT_HOW.TARGET_IN_ROOT | MOUNT_HOW.CREATE_TARGET,
    });
    assert.equal(p.steps.filter(mountOn("/data")).length, 0);
    assert.ok(encodeProgram(p.steps).length > 0);
  });

  it("uses a mount's own mappings, ridmap recursively, one slot per mount", () => {
    const p = compileInit(
      options((s) => {
        userns(s);
        s.mounts!.push(
          volume({ destination: "/a", options: ["bind", "ridmap"] }),
          volume({
            destination: "/b",
            options: ["bind"],
            uidMappings: [{ containerID: 1000, hostID: 100000, size: 1 }],
            gidMappings: [
              { containerID: 1000, hostID: 100000, size: 1 },
              { containerID: 0, hostID: 100001, size: 1 },
            ],
          }),
        );
      }),
    );
    const trees = p.steps.filter((s) => s.op === "idmap-tree");
    assert.deepEqual(
      trees.map((t) => t.op === "idmap-tree" && [t.args.slot, t.args.openFlags, t.args.attrFlags]),
      [
        [0, 0, AT_RECURSIVE],
        [1, 0, 0],
      ],
    );
    assert.ok(trees[1]?.op === "idmap-tree");
    assert.equal(trees[1].args.uidMap, "1000 100000 1\n");
    assert.equal(trees[1].args.gidMap, "1000 100000 1\n0 100001 1\n");
    const attach = p.steps.filter((s) => s.op === "move-mount");
    assert.deepEqual(
      attach.map((s) => s.op === "move-mount" && [s.args.slot, s.args.target]),
      [
        [0, "/a"],
        [1, "/b"],
      ],
    );
  });

  it("unshares every namespace, a user namespace or not, after making the trees", () => {
    const p = compileInit(
      options((s) =>
        s.mounts!.push(
          volume({
            uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
          }),
        ),
      ),
    );
    assert.equal(p.cloneFlags, 0n);
    assert.equal(p.steps[0]?.op, "idmap-tree");
    assert.equal(p.idmap, null);
    const unshare = p.steps.find((s) => s.op === "unshare");
    assert.ok(unshare?.op === "unshare");
    assert.equal(
      BigInt(unshare.args.flags),
      CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS,
    );
    assert.equal(p.forks, true);
  });

  it("refuses idmap with no mappings to take", () => {
    assert.throws(
      () => compileInit(options((s) => s.mounts!.push(volume({ options: ["bind", "idmap"] })))),
      /id-mapped mount "\/srv\/data" for "\/data": needs uidMappings and gidMappings/,
    );
  });

  it("refuses an id-mapped mount that is not a bind", () => {
    assert.throws(
      () =>
        compileInit(
          options((s) => {
            userns(s);
            s.mounts!.push({
              destination: "/t",
              type: "tmpfs",
              source: "tmpfs",
              options: ["idmap"],
            });
          }),
        ),
      /only bind mounts can be/,
    );
  });
});
