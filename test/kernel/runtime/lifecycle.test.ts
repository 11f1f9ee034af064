import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { hoodAsync, needsRoot, Sandbox } from "../../helpers/hood.ts";

function waitFor(check: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

describe("lifecycle: create, start, state, kill, delete", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("walks created -> running -> stopped -> deleted", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    const pidFile = join(box.dir, `${id}.pid`);
    const c = box.hood(["create", "--bundle", bundle, "--pid-file", pidFile, id]);
    assert.equal(c.status, 0, c.stderr);
    let st = JSON.parse(box.hood(["state", id]).stdout);
    assert.equal(st.status, "created");
    assert.equal(st.id, id);
    assert.equal(st.bundle, bundle);
    assert.equal(Number(readFileSync(pidFile, "utf8")), st.pid);
    // The init waits on the FIFO: the executor, still, from its memfd.
    assert.match(readlinkSync(`/proc/${st.pid}/exe`), /memfd:hood-executor/);

    assert.equal(box.hood(["start", id]).status, 0);
    waitFor(() => readlinkSync(`/proc/${st.pid}/exe`).endsWith("busybox"));
    st = JSON.parse(box.hood(["state", id]).stdout);
    assert.equal(st.status, "running");

    const again = box.hood(["start", id]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /cannot start an already running container/);

    const del = box.hood(["delete", id]);
    assert.notEqual(del.status, 0);
    assert.match(del.stderr, /cannot delete container .* that is not stopped: running/);

    assert.equal(box.hood(["kill", id, "KILL"]).status, 0);
    waitFor(() => JSON.parse(box.hood(["state", id]).stdout).status === "stopped");
    const k = box.hood(["kill", id]);
    assert.notEqual(k.status, 0);
    assert.match(k.stderr, /container not running/);

    assert.equal(box.hood(["delete", id]).status, 0);
    const gone = box.hood(["state", id]);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /container does not exist/);
    assert.equal(existsSync(join(box.root, id)), false);
  });

  it("refuses a duplicate id and leaves the first container alone", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    assert.equal(box.hood(["create", "--bundle", bundle, id]).status, 0);
    const dup = box.hood(["create", "--bundle", bundle, id]);
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /container with given ID already exists/);
    assert.equal(JSON.parse(box.hood(["state", id]).stdout).status, "created");
    // A created container is deleted without --force, as runc does.
    assert.equal(box.hood(["delete", id]).status, 0);
  });

  it("delete --force of a missing container succeeds, plain delete fails", () => {
    assert.equal(box.hood(["delete", "--force", "no-such-container"]).status, 0);
    assert.notEqual(box.hood(["delete", "no-such-container"]).status, 0);
  });

  it("kills a running container with delete --force", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    assert.equal(box.hood(["run", "--detach", "--bundle", bundle, id]).status, 0);
    const pid = JSON.parse(box.hood(["state", id]).stdout).pid;
    assert.equal(box.hood(["delete", "--force", id]).status, 0);
    assert.equal(
      existsSync(`/proc/${pid}/stat`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(" Z "),
      false,
    );
  });

  it("lists containers as a table, as json and quietly", () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    assert.equal(box.hood(["create", "--bundle", bundle, id]).status, 0);
    const table = box.hood(["list"]).stdout.split("\n");
    assert.match(table[0]!, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    assert.ok(table.some((l) => l.startsWith(id) && l.includes("created")));
    const json = JSON.parse(box.hood(["list", "--format", "json"]).stdout);
    assert.ok(json.some((s: { id: string }) => s.id === id));
    assert.ok(box.hood(["list", "-q"]).stdout.split("\n").includes(id));
    const ps = JSON.parse(box.hood(["ps", "--format", "json", id]).stdout);
    assert.deepEqual(ps, [JSON.parse(box.hood(["state", id]).stdout).pid]);
    assert.equal(box.hood(["delete", "--force", id]).status, 0);
  });

  it("reports a failed create with the step, the path and the errno, and leaves nothing", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        s.mounts!.push({
          destination: "/mnt/x",
          type: "bind",
          source: "/nonexistent/source",
          options: ["bind"],
        });
      },
    });
    const id = box.id();
    const r = box.hood(["create", "--bundle", bundle, id]);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /create .*: mount "\/nonexistent\/source" on "\/mnt\/x": ENOENT \(no such file or directory\)/,
    );
    assert.equal(existsSync(join(box.root, id)), false);
    assert.notEqual(box.hood(["state", id]).status, 0);
  });

  it("says which executable was not found", () => {
    const bundle = box.bundle({ args: ["no-such-program"] });
    const r = box.hood(["run", "--bundle", bundle, box.id()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /find the executable "no-such-program": ENOENT/);
  });

  it("reports every problem of an invalid config at once, before creating anything", () => {
    const bundle = box.bundle({
      args: ["true"],
      edit: (s) => {
        (s as unknown as { ociVersion: number }).ociVersion = 7;
        s.process!.cwd = "relative";
        s.linux!.namespaces!.push({ type: "bogus" as "pid" });
      },
    });
    const id = box.id();
    const r = box.hood(["create", "--bundle", bundle, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ociVersion/);
    assert.match(r.stderr, /process\.cwd/);
    assert.match(r.stderr, /linux\.namespaces\[\d\]\.type/);
    assert.equal(existsSync(join(box.root, id)), false);
  });

  it("writes json log lines with the cause last", () => {
    const log = join(box.dir, "log.json");
    const moved = box.hood(["--log", log, "--log-format", "json", "state", "nope"]);
    assert.notEqual(moved.status, 0);
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const last = lines.at(-1);
    assert.equal(last.level, "error");
    assert.match(last.msg, /container does not exist/);
    assert.ok(!Number.isNaN(Date.parse(last.time)));
  });
});

describe("run: exit codes and signals", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("exits with the container's status", () => {
    assert.equal(box.run(["sh", "-c", "exit 3"]).status, 3);
    assert.equal(box.run(["true"]).status, 0);
  });

  it("exits 128+N when the container is killed by signal N", async () => {
    const bundle = box.bundle({ args: ["sleep", "30"] });
    const id = box.id();
    const run = hoodAsync(box.root, ["run", "--bundle", bundle, id]);
    const exited = new Promise<number | null>((resolve) => run.on("exit", (code) => resolve(code)));
    for (
      let i = 0;
      i < 100 && box.hood(["state", id]).stdout.includes('"running"') === false;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(box.hood(["kill", id, "KILL"]).status, 0);
    assert.equal(await exited, 137);
  });

  it("forwards signals to the container's init", async () => {
    const bundle = box.bundle({
      args: ["sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.1; done"],
    });
    const id = box.id();
    const run = hoodAsync(box.root, ["run", "--bundle", bundle, id]);
    const exited = new Promise<number | null>((resolve) => run.on("exit", (code) => resolve(code)));
    for (
      let i = 0;
      i < 100 && box.hood(["state", id]).stdout.includes('"running"') === false;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    run.kill("SIGTERM");
    assert.equal(await exited, 9);
  });

  it("passes stdout and stderr through and removes the container afterwards", () => {
    const r = box.run(["sh", "-c", "echo out; echo err >&2"]);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /err/);
    assert.equal(box.hood(["list", "-q"]).stdout, "");
  });

  it("keeps the stopped container with --keep", () => {
    const bundle = box.bundle({ args: ["true"] });
    const id = box.id();
    assert.equal(box.hood(["run", "--keep", "--bundle", bundle, id]).status, 0);
    assert.equal(JSON.parse(box.hood(["state", id]).stdout).status, "stopped");
    assert.equal(box.hood(["delete", id]).status, 0);
  });
});
