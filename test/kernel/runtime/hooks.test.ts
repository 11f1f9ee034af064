import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Hook } from "../../../src/oci/runtime-spec.ts";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

describe("hooks", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  /** A hook script that appends its name, the status from its stdin and its view of the mount ns. */
  function recorder(log: string): string {
    const path = join(box.dir, "hook.sh");
    writeFileSync(
      path,
      `#!/bin/sh\nstate=$(cat)\nstatus=$(echo "$state" | sed -n 's/.*"status":"\\([a-z]*\\)".*/\\1/p')\necho "$1 $status" >> ${log}\n`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  it("runs every kind in the lifecycle's order with the state on stdin", () => {
    const log = join(box.dir, "hooks.log");
    const script = recorder(log);
    // startContainer runs inside the container: a busybox script writes to a bind-mounted log.
    const hook = (name: string): Hook => ({ path: script, args: ["hook.sh", name] });
    const bundle = box.bundle({
      args: ["sh", "-c", "echo process >> /hooklog/hooks.log"],
      edit: (s) => {
        s.mounts!.push({
          destination: "/hooklog",
          type: "bind",
          source: box.dir,
          options: ["bind"],
        });
        s.hooks = {
          prestart: [hook("prestart")],
          createRuntime: [hook("createRuntime")],
          createContainer: [hook("createContainer")],
          startContainer: [
            { path: "/bin/sh", args: ["sh", "-c", "echo startContainer >> /hooklog/hooks.log"] },
          ],
          poststart: [hook("poststart")],
          poststop: [hook("poststop")],
        };
      },
    });
    const r = box.hood(["run", "--bundle", bundle, box.id()]);
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    const names = lines.map((l) => l.split(" ")[0]);
    // poststart races with the process itself; every other position is fixed.
    assert.deepEqual(names.slice(0, 4), [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
    ]);
    assert.deepEqual(new Set(names.slice(4, 6)), new Set(["poststart", "process"]));
    assert.equal(names[6], "poststop");
    assert.deepEqual(
      lines.filter((l) => l.includes(" ")).map((l) => l.split(" ")[1]),
      ["creating", "creating", "creating", "running", "stopped"],
    );
  });

  it("fails create when a createRuntime hook fails, and leaves nothing", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.hooks = { createRuntime: [{ path: "/bin/false" }] };
      },
    });
    const id = box.id();
    const r = box.hood(["create", "--bundle", bundle, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /createRuntime hook 0 \(\/bin\/false\): exit status 1/);
    assert.notEqual(box.hood(["state", id]).status, 0);
  });

  it("kills a hook that runs past its timeout", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.hooks = { prestart: [{ path: "/bin/sleep", args: ["sleep", "10"], timeout: 1 }] };
      },
    });
    const started = Date.now();
    const r = box.hood(["run", "--bundle", bundle, box.id()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /timed out after 1s/);
    assert.ok(Date.now() - started < 8000);
  });
});
