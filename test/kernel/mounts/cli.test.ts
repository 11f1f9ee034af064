/** `hood mounts`: the tree of a running container, its propagation and its host peers. */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { MountReport } from "../../../src/cli/mounts.ts";
import { parseMountinfo } from "../../../src/linux/mountinfo.ts";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";
import { Scratch } from "./fixture.ts";

function flatten(reports: readonly MountReport[]): MountReport[] {
  return reports.flatMap((r) => [r, ...flatten(r.children)]);
}

describe("hood mounts", { skip: needsRoot }, () => {
  let box: Sandbox;
  let scratch: Scratch;
  let id: string;
  let pid: number;
  let shared: string;
  before(() => {
    box = new Sandbox();
    scratch = new Scratch();
    shared = scratch.tmpfs("shared", "shared");
    for (const d of ["both", "in"]) mkdirSync(join(shared, d));
    const bundle = box.bundle({
      args: ["sleep", "60"],
      edit: (s) => {
        s.linux!.rootfsPropagation = "rshared";
        s.mounts!.push(
          { destination: "/both", type: "bind", source: join(shared, "both"), options: ["rbind"] },
          {
            destination: "/in",
            type: "bind",
            source: join(shared, "in"),
            options: ["rbind", "rslave"],
          },
        );
      },
    });
    id = box.id();
    const r = box.hood(["run", "--detach", "--bundle", bundle, id]);
    assert.equal(r.status, 0, r.stderr);
    pid = JSON.parse(box.hood(["state", id]).stdout).pid;
  });
  after(() => {
    box.cleanup();
    scratch.cleanup();
  });

  it("prints the container's mounts as JSON, each with its host peer groups", () => {
    const r = box.hood(["mounts", id, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { pid: number; mounts: MountReport[] };
    assert.equal(out.pid, pid);
    const all = flatten(out.mounts);
    const table = parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
    assert.deepEqual(all.map((m) => m.id).sort(), table.map((m) => m.id).sort());
    assert.equal(out.mounts.length, 1, "one root");
    assert.equal(out.mounts[0]?.mountPoint, "/");
    const both = all.find((m) => m.mountPoint === "/both");
    const inOnly = all.find((m) => m.mountPoint === "/in");
    assert.equal(both?.type, "shared");
    assert.deepEqual(both?.host.peers, [shared]);
    assert.deepEqual(both?.host.masters, []);
    assert.equal(inOnly?.type, "slave");
    assert.deepEqual(inOnly?.host.peers, []);
    assert.deepEqual(inOnly?.host.masters, [shared]);
    const proc = all.find((m) => m.mountPoint === "/proc");
    assert.deepEqual(proc?.host, {
      peers: [],
      masters: [],
      summary: "no host mount in its groups",
    });
  });

  it("prints a tree with the same mounts by pid and by container id", () => {
    const byId = box.hood(["mounts", id]);
    const byPid = box.hood(["mounts", String(pid)]);
    assert.equal(byId.status, 0, byId.stderr);
    assert.equal(byId.stdout, byPid.stdout);
    const lines = byId.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^MOUNT POINT\s+FSTYPE\s+SOURCE\s+PROPAGATION\s+HOST$/);
    assert.match(lines[1] ?? "", /^\/\s/);
    const both = lines.find((l) => /[|`]-- \/both\s/.test(l));
    assert.match(both ?? "", new RegExp(`both ways with host ${shared}$`));
    const inOnly = lines.find((l) => /[|`]-- \/in\s/.test(l));
    assert.match(inOnly ?? "", new RegExp(`master:\\d+\\s+receives from host ${shared}$`));
  });

  it("says what is wrong with a missing container or a bad argument", () => {
    const missing = box.hood(["mounts", "no-such-container"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /mounts no-such-container: container does not exist/);
    assert.equal(box.hood(["mounts"]).status, 2);
    assert.equal(box.hood(["mounts", "--bogus", id]).status, 2);
  });
});
