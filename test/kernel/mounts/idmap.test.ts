/**
 * Id-mapped mounts: a host directory owned by uid 1000 appears owned by another uid inside
 * the container, without chown (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)).
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

const USERNS = (s: Spec) => {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

describe("id-mapped mounts", { skip: needsRoot }, () => {
  let box: Sandbox;
  let source: string;
  before(() => {
    box = new Sandbox();
    source = join(box.dir, "source");
    mkdirSync(source);
    writeFileSync(join(source, "f"), "data");
    chownSync(join(source, "f"), 1000, 1000);
    chownSync(source, 1000, 1000);
  });
  after(() => box.cleanup());

  function stat(mounts: Spec["mounts"], edit?: (s: Spec) => void, extra = ""): string[] {
    const bundle = box.bundle({
      args: ["sh", "-c", `stat -c %u:%g /m/f${extra}`],
      edit: (s) => {
        edit?.(s);
        s.mounts!.push(...(mounts ?? []));
      },
    });
    // In a user namespace the container's root cannot create the mount point in a rootfs
    // owned by the host's root.
    mkdirSync(join(bundle, "rootfs", "m"));
    const r = box.hood(["run", "--bundle", bundle, box.id()]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split("\n");
  }

  it("shows a host uid 1000 as the container's root, and files it writes as uid 1000", () => {
    const map = [{ containerID: 1000, hostID: 100000, size: 1 }];
    const out = stat(
      [
        {
          destination: "/m",
          type: "bind",
          source,
          options: ["bind"],
          uidMappings: map,
          gidMappings: map,
        },
      ],
      USERNS,
      "; echo new > /m/new && stat -c %u:%g /m/new",
    );
    assert.deepEqual(out, ["0:0", "0:0"]);
    const written = statSync(join(source, "new"));
    assert.deepEqual([written.uid, written.gid], [1000, 1000]);
    // Without the mapping the same file is nobody's.
    assert.deepEqual(
      stat([{ destination: "/m", type: "bind", source, options: ["bind"] }], USERNS),
      ["65534:65534"],
    );
  });

  it("idmap takes the container's own mapping: the source's ids show unchanged", () => {
    assert.deepEqual(
      stat([{ destination: "/m", type: "bind", source, options: ["rbind", "idmap"] }], USERNS),
      ["1000:1000"],
    );
  });

  it("maps without a user namespace too", () => {
    const map = [{ containerID: 1000, hostID: 4242, size: 1 }];
    assert.deepEqual(
      stat([
        {
          destination: "/m",
          type: "bind",
          source,
          options: ["bind"],
          uidMappings: map,
          gidMappings: map,
        },
      ]),
      ["4242:4242"],
    );
  });
});
