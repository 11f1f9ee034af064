/** Flags on bind mounts: a remount for the mount itself, mount_setattr for its submounts. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";
import { Scratch } from "./fixture.ts";

const PROBE = [
  "for f in /vol/top /vol/sub/inner; do if echo x > $f 2>/dev/null; then echo $f=rw; else echo $f=ro; fi; done",
  "grep ' /vol' /proc/self/mountinfo | cut -d' ' -f5,6",
].join("; ");

describe("recursive mount attributes", { skip: needsRoot }, () => {
  let box: Sandbox;
  let scratch: Scratch;
  let source: string;
  before(() => {
    box = new Sandbox();
    scratch = new Scratch();
    // A host directory with a mount inside it: a recursive bind carries both.
    source = scratch.tmpfs("source", "private");
    mkdirSync(join(source, "sub"));
    scratch.tmpfs("source/sub", "private");
    writeFileSync(join(source, "top"), "");
  });
  after(() => {
    box.cleanup();
    scratch.cleanup();
  });

  function probe(options: string[]): string[] {
    const r = box.run(["sh", "-c", PROBE], (s) => {
      s.mounts!.push({ destination: "/vol", type: "bind", source, options });
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split("\n");
  }

  it("rbind,ro makes the submounts read-only too", () => {
    const out = probe(["rbind", "ro"]);
    assert.deepEqual(out.slice(0, 2), ["/vol/top=ro", "/vol/sub/inner=ro"]);
    assert.match(out[2] ?? "", /^\/vol ro,/);
    assert.match(out[3] ?? "", /^\/vol\/sub ro,/);
  });

  it("bind,ro carries no submount: only the source directory itself is bound", () => {
    const out = probe(["bind", "ro"]);
    // Without rbind the submount is not bound in; the directory under it is the source's.
    assert.equal(out[0], "/vol/top=ro");
    assert.equal(out.filter((l) => l.startsWith("/vol/sub ")).length, 0);
  });

  it("rbind alone keeps everything writable", () => {
    assert.deepEqual(probe(["rbind"]).slice(0, 2), ["/vol/top=rw", "/vol/sub/inner=rw"]);
  });

  it("rro makes the whole tree read-only, rnoexec sets noexec on every mount", () => {
    const out = probe(["rbind", "rro", "rnoexec"]);
    assert.deepEqual(out.slice(0, 2), ["/vol/top=ro", "/vol/sub/inner=ro"]);
    for (const line of out.slice(2)) assert.match(line, /^\/vol\S* ro,.*noexec/, line);
  });
});
