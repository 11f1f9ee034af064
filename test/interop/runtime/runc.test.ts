import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { needsRoot, reference, Sandbox } from "../../helpers/hood.ts";

const runcMissing = (() => {
  try {
    return reference("runc", "/tmp", ["--version"]).status === 0 ? false : "runc is not installed";
  } catch {
    return "runc is not installed";
  }
})();

/** The same bundle under runc and hood. */
describe("differential: hood and runc on the same bundles", {
  skip: needsRoot || runcMissing,
}, () => {
  const box = new Sandbox();
  const runcRoot = join(box.dir, "runc-state");
  after(() => {
    for (const id of reference("runc", runcRoot, ["list", "-q"])
      .stdout.split("\n")
      .filter(Boolean)) {
      reference("runc", runcRoot, ["delete", "--force", id]);
    }
    box.cleanup();
  });

  const both = (args: string[]) => ({
    hood: box.hood(args),
    runc: reference("runc", runcRoot, args),
  });

  it("gives the same exit codes", () => {
    for (const script of ["exit 0", "exit 1", "exit 42", "kill -TERM $$", "kill -9 $$"]) {
      const bundle = box.bundle({ args: ["sh", "-c", script] });
      const r = both(["run", "--bundle", bundle, box.id()]);
      assert.equal(
        r.hood.status,
        r.runc.status,
        `${script}: hood ${r.hood.status}, runc ${r.runc.status}`,
      );
    }
  });

  it("gives the same output for a container's view of itself", () => {
    const script =
      "echo $$; hostname; id; cat /proc/self/uid_map; ls /dev | sort; grep -E '^Cap' /proc/self/status";
    const bundle = box.bundle({ args: ["sh", "-c", script] });
    const r = both(["run", "--bundle", bundle, box.id()]);
    assert.equal(r.runc.status, 0, r.runc.stderr);
    assert.equal(r.hood.status, 0, r.hood.stderr);
    assert.equal(r.hood.stdout, r.runc.stdout);
  });

  it("gives the same state JSON shape through the lifecycle", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    const shape = (text: string) => {
      const s = JSON.parse(text);
      return {
        keys: Object.keys(s),
        status: s.status,
        bundle: s.bundle,
        id: s.id,
        pidIsNumber: typeof s.pid,
      };
    };
    let r = both(["create", "--bundle", bundle, id]);
    assert.equal(r.hood.status, r.runc.status);
    r = both(["state", id]);
    assert.deepEqual(
      { ...shape(r.hood.stdout), keys: undefined },
      { ...shape(r.runc.stdout), keys: undefined },
    );
    const keys = (t: string) => Object.keys(JSON.parse(t)).filter((k) => k !== "ociVersion");
    assert.deepEqual(keys(r.hood.stdout), keys(r.runc.stdout));
    r = both(["start", id]);
    assert.equal(r.hood.status, 0);
    assert.equal(r.runc.status, 0);
    r = both(["state", id]);
    assert.equal(JSON.parse(r.hood.stdout).status, JSON.parse(r.runc.stdout).status);
    for (const args of [
      ["start", id],
      ["delete", id],
      ["kill", id, "KILL"],
      ["delete", "--force", "missing"],
      ["state", "missing"],
      ["kill", "missing"],
    ]) {
      const x = both(args);
      assert.equal(
        x.hood.status === 0,
        x.runc.status === 0,
        `${args.join(" ")}: hood ${x.hood.status}, runc ${x.runc.status}`,
      );
    }
  });

  it("lists containers with the same columns and json fields", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    both(["create", "--bundle", bundle, id]);
    const r = both(["list"]);
    const header = (t: string) => t.split("\n")[0]?.split(/\s+/);
    assert.deepEqual(header(r.hood.stdout), header(r.runc.stdout));
    const row = (t: string) =>
      t
        .split("\n")
        .find((l) => l.startsWith(id))
        ?.split(/\s+/)
        .slice(0, 4);
    const hoodRow = row(r.hood.stdout);
    const runcRow = row(r.runc.stdout);
    assert.equal(hoodRow?.[0], runcRow?.[0]);
    assert.equal(hoodRow?.[2], runcRow?.[2]);
    assert.equal(hoodRow?.[3], runcRow?.[3]);
    const j = both(["list", "--format", "json"]);
    const fields = (t: string) => Object.keys(JSON.parse(t)[0]).filter((k) => k !== "ociVersion");
    assert.deepEqual(fields(j.hood.stdout), fields(j.runc.stdout));
    const empty = { hood: box.hood(["--root", join(box.dir, "none"), "list", "--format", "json"]) };
    assert.equal(empty.hood.stdout, "null\n");
    both(["delete", "--force", id]);
  });

  it("gives the same capability sets for the same configs", () => {
    const configs: NonNullable<NonNullable<Spec["process"]>["capabilities"]>[] = [
      {},
      {
        bounding: ["CAP_CHOWN", "CAP_KILL"],
        effective: ["CAP_CHOWN"],
        permitted: ["CAP_CHOWN", "CAP_KILL"],
      },
      {
        bounding: ["CAP_KILL", "CAP_NET_RAW"],
        effective: ["CAP_KILL"],
        permitted: ["CAP_KILL"],
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      },
    ];
    for (const [i, caps] of configs.entries()) {
      for (const uid of [0, 1000]) {
        const bundle = box.bundle({
          args: ["grep", "^Cap", "/proc/self/status"],
          edit: (s) => {
            s.process!.capabilities = caps;
            s.process!.user = { uid, gid: uid };
          },
        });
        const r = both(["run", "--bundle", bundle, box.id()]);
        assert.equal(r.runc.status, 0, r.runc.stderr);
        assert.equal(r.hood.status, 0, r.hood.stderr);
        assert.equal(r.hood.stdout, r.runc.stdout, `config ${i} as uid ${uid}`);
      }
    }
  });
});
