/**
 * Differential against runc: the propagation fields of /proc/1/mountinfo inside the container,
 * for each rootfsPropagation value and each per-mount propagation word on a volume bound from a
 * shared host tmpfs. Peer group numbers differ between runs, so each is named by the host
 * mount in that group ("host:/path") or by its order of appearance ("c1", "c2", ...).
 *
 * runc 1.1 (Debian 12's) never applies rootfsPropagation to the container's root after
 * pivot_root, so "shared", "rshared" and "unbindable" leave its root private and
 * "runbindable" fails; runc fixed that in opencontainers/runc#4724 (1.2.7 and 1.3), and hood
 * does what the fixed runc does. Those values are compared against runc's table with that one
 * step applied.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type MountInfo, parseMountinfo, readMountinfo } from "../../../src/linux/mountinfo.ts";
import { isRoot, reference, Sandbox } from "../../helpers/hood.ts";
import { Scratch } from "../../kernel/mounts/fixture.ts";

const hasRunc = spawnSync("runc", ["--version"]).status === 0;
const skip = !isRoot ? "needs root" : !hasRunc ? "needs runc" : false;

type Row = [mountPoint: string, tags: string];

/** Mount point and propagation fields, peer groups named by host mount or order of appearance. */
function normalize(mounts: readonly MountInfo[], host: readonly MountInfo[]): Row[] {
  const hostGroups = new Map<number, string>();
  for (const m of host) {
    if (m.propagation.shared !== undefined && !hostGroups.has(m.propagation.shared)) {
      hostGroups.set(m.propagation.shared, `host:${m.mountPoint}`);
    }
  }
  const seen = new Map<number, string>();
  const name = (n: number) => {
    const known = hostGroups.get(n) ?? seen.get(n);
    if (known) return known;
    const label = `c${seen.size + 1}`;
    seen.set(n, label);
    return label;
  };
  return mounts.map((m) => {
    const p = m.propagation;
    const tags: string[] = [];
    if (p.shared !== undefined) tags.push(`shared:${name(p.shared)}`);
    if (p.master !== undefined) tags.push(`master:${name(p.master)}`);
    if (p.propagateFrom !== undefined) tags.push(`propagate_from:${name(p.propagateFrom)}`);
    if (p.unbindable) tags.push("unbindable");
    return [m.mountPoint, tags.join(" ")];
  });
}

/** Keeps the mount points both tables have (hood also binds the cgroup2 hierarchy of a hybrid host). */
function common(a: Row[], b: Row[]): [Row[], Row[]] {
  const inA = new Set(a.map((r) => r[0]));
  const inB = new Set(b.map((r) => r[0]));
  return [a.filter((r) => inB.has(r[0])), b.filter((r) => inA.has(r[0]))];
}

/** Drops group names that are not the host's, for tables whose private groups differ in number. */
const kinds = (rows: Row[]): Row[] =>
  rows.map(([mp, tags]) => [mp, tags.replace(/(shared|master|propagate_from):c\d+/g, "$1:new")]);

/** What runc 1.1's table becomes with rootfsPropagation applied after pivot_root (runc#4724). */
function afterPivot(rows: Row[], value: string): Row[] {
  return rows.map(([mp, tags]) => {
    if (mp === "/vol") return [mp, tags];
    if (value === "shared" && mp === "/") return [mp, "shared:new"];
    if (value === "unbindable" && mp === "/") return [mp, "unbindable"];
    if (value === "rshared" && !tags.includes("shared:")) {
      return [mp, ["shared:new", ...(tags ? [tags] : [])].join(" ")];
    }
    return [mp, tags];
  });
}

describe("propagation of /proc/1/mountinfo against runc", { skip }, () => {
  let box: Sandbox;
  let scratch: Scratch;
  let bundles: string;
  let vol: string;
  let n = 0;
  before(() => {
    box = new Sandbox();
    scratch = new Scratch();
    // The same host layout for both runtimes: bundles on a private tmpfs, the volume on a shared one.
    bundles = scratch.tmpfs("bundles", "private");
    vol = join(scratch.tmpfs("volume", "shared"), "data");
    mkdirSync(vol);
  });
  after(() => {
    box.cleanup();
    scratch.cleanup();
  });

  function tables(rootfsPropagation: string, word: string) {
    const bundle = scratch.bundle(join(bundles, `b${n++}`), ["cat", "/proc/1/mountinfo"], (s) => {
      if (rootfsPropagation) s.linux!.rootfsPropagation = rootfsPropagation as "shared";
      s.mounts!.push({
        destination: "/vol",
        type: "bind",
        source: vol,
        options: word ? ["rbind", word] : ["rbind"],
      });
    });
    const id = box.id("diff");
    const runc = reference("runc", join(box.dir, "runc"), ["run", id], { cwd: bundle });
    const hood = box.hood(["run", "--bundle", bundle, id]);
    const host = readMountinfo("self");
    assert.equal(hood.status, 0, hood.stderr);
    return {
      runcOk: runc.status === 0,
      runc: runc.status === 0 ? normalize(parseMountinfo(runc.stdout), host) : [],
      hood: normalize(parseMountinfo(hood.stdout), host),
    };
  }

  const WORDS = [
    "",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
  ];

  for (const value of ["", "slave", "rslave", "private", "rprivate"]) {
    it(`matches runc with rootfsPropagation ${JSON.stringify(value)} and every word on the volume`, () => {
      for (const word of WORDS) {
        const t = tables(value, word);
        assert.ok(t.runcOk, `runc ran with ${JSON.stringify(word)}`);
        const [runc, hood] = common(t.runc, t.hood);
        assert.ok(hood.length >= 20, "the tables have the container's mounts");
        assert.deepEqual(hood, runc, `rootfsPropagation ${JSON.stringify(value)}, volume ${word}`);
      }
    });
  }

  for (const value of ["shared", "rshared", "unbindable"]) {
    it(`matches runc with rootfsPropagation ${value} applied to the new root as runc#4724 does`, () => {
      for (const word of ["", "rshared", "rslave", "rprivate", "runbindable"]) {
        const t = tables(value, word);
        assert.ok(t.runcOk, `runc ran with ${JSON.stringify(word)}`);
        const [runc, hood] = common(t.runc, t.hood);
        // runc 1.1 really leaves the root private: if that changes, this comparison must too.
        assert.deepEqual(
          runc.find((r) => r[0] === "/"),
          ["/", ""],
        );
        assert.deepEqual(kinds(hood), kinds(afterPivot(runc, value)), `volume ${word}`);
      }
    });
  }

  it("makes the whole tree unbindable with runbindable, where runc 1.1 fails", () => {
    const t = tables("runbindable", "");
    assert.equal(t.runcOk, false);
    for (const [mp, tags] of t.hood) assert.equal(tags, "unbindable", mp);
  });
});
