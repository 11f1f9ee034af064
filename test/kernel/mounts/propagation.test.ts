/**
 * Shared subtrees between the host and a container, each case in both directions: a volume is
 * bound from a shared host tmpfs; the container mounts a tmpfs inside it and the host mounts
 * one inside it, and each side looks for the other's.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hoodAsync, needsRoot, Sandbox } from "../../helpers/hood.ts";
import { run, Scratch, withSysAdmin } from "./fixture.ts";

/** The container: mount in the volume, say so, wait for the host, look for its mount. */
const SCRIPT = [
  "mkdir -p /vol/c && mount -t tmpfs from-container /vol/c && echo c > /vol/c/m",
  "echo > /vol/ready",
  "i=0; while [ ! -e /vol/go ] && [ $i -lt 400 ]; do usleep 25000; i=$((i+1)); done",
  "if [ -e /vol/h/m ]; then echo host-to-container=yes; else echo host-to-container=no; fi",
].join("; ");

async function waitFor(path: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Seen {
  hostToContainer: boolean;
  containerToHost: boolean;
}

describe("mount propagation between host and container", { skip: needsRoot }, () => {
  let box: Sandbox;
  let scratch: Scratch;
  before(() => {
    box = new Sandbox();
    scratch = new Scratch();
  });
  after(() => {
    box.cleanup();
    scratch.cleanup();
  });

  async function probe(options: string[], rootfsPropagation?: string): Promise<Seen> {
    const name = `v${Math.random().toString(36).slice(2, 8)}`;
    const shared = scratch.tmpfs(name, "shared");
    const vol = join(shared, "vol");
    mkdirSync(vol);
    const bundle = scratch.bundle(
      join(scratch.dir, `${name}-bundle`),
      ["sh", "-c", SCRIPT],
      (s) => {
        withSysAdmin(s);
        if (rootfsPropagation) s.linux!.rootfsPropagation = rootfsPropagation as "rshared";
        s.mounts!.push({ destination: "/vol", type: "bind", source: vol, options });
      },
    );
    const child = hoodAsync(box.root, ["run", "--bundle", bundle, box.id()]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    try {
      await Promise.race([
        waitFor(join(vol, "ready")),
        exited.then(() => {
          throw new Error(`container exited early: ${stderr}`);
        }),
      ]);
      const containerToHost = existsSync(join(vol, "c", "m"));
      mkdirSync(join(vol, "h"));
      run("mount", ["-t", "tmpfs", "from-host", join(vol, "h")]);
      writeFileSync(join(vol, "h", "m"), "h");
      writeFileSync(join(vol, "go"), "");
      assert.equal(await exited, 0, stderr);
      return { containerToHost, hostToContainer: /host-to-container=yes/.test(stdout) };
    } finally {
      child.kill("SIGKILL");
    }
  }

  it("rshared (rootfsPropagation rshared): both ways", async () => {
    assert.deepEqual(await probe(["rbind", "rshared"], "rshared"), {
      hostToContainer: true,
      containerToHost: true,
    });
  });

  it("rshared under the default rslave root: host to container only", async () => {
    // The host's tree is made a slave in the container's namespace before the bind, so the
    // volume is a slave that is also shared: nothing goes back to the host (as with runc).
    assert.deepEqual(await probe(["rbind", "rshared"]), {
      hostToContainer: true,
      containerToHost: false,
    });
  });

  it("rslave: host to container only", async () => {
    assert.deepEqual(await probe(["rbind", "rslave"], "rshared"), {
      hostToContainer: true,
      containerToHost: false,
    });
  });

  it("rprivate: neither way", async () => {
    assert.deepEqual(await probe(["rbind", "rprivate"], "rshared"), {
      hostToContainer: false,
      containerToHost: false,
    });
  });

  it("runbindable: neither way", async () => {
    assert.deepEqual(await probe(["rbind", "runbindable"], "rshared"), {
      hostToContainer: false,
      containerToHost: false,
    });
  });
});

describe("unbindable mounts", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  function rebind(options: string[]): string {
    const src = join(box.dir, `src-${box.id()}`);
    mkdirSync(src);
    const r = box.run(
      [
        "sh",
        "-c",
        "mkdir -p /x && if mount --bind /vol /x; then echo rebind=yes; else echo rebind=no; fi",
      ],
      (s) => {
        withSysAdmin(s);
        s.root!.readonly = false;
        s.mounts!.push({ destination: "/vol", type: "bind", source: src, options });
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  it("a runbindable volume cannot be bind-mounted again inside the container", () => {
    assert.equal(rebind(["rbind", "runbindable"]), "rebind=no");
    assert.equal(rebind(["rbind", "unbindable"]), "rebind=no");
    assert.equal(rebind(["rbind", "rprivate"]), "rebind=yes");
  });

  it("rootfsPropagation runbindable makes the container's whole tree unbindable", () => {
    const r = box.run(["sh", "-c", "cat /proc/self/mountinfo"], (s) => {
      s.linux!.rootfsPropagation = "runbindable";
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(lines.length > 5);
    for (const line of lines) assert.match(line, / unbindable - /, line);
  });
});
