import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { LinuxSeccomp } from "../../../src/oci/runtime-spec.ts";
import { defaultSeccomp } from "../../../src/seccomp/default-profile.ts";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

/** A profile that allows everything except what `rules` says. */
function allowAllBut(syscalls: LinuxSeccomp["syscalls"]): LinuxSeccomp {
  return { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls };
}

describe("seccomp in containers", { skip: needsRoot }, () => {
  const box = new Sandbox();
  after(() => box.cleanup());

  it("denies mkdir with EPERM and lets everything else work", () => {
    const r = box.run(
      ["sh", "-c", "mkdir /tmp/x; echo mkdir=$?; echo ok > /dev/null && echo still-works"],
      (s) => {
        s.root!.readonly = false;
        s.linux!.seccomp = allowAllBut([
          { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
        ]);
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Operation not permitted|mkdir=1/);
    assert.match(r.stdout, /still-works/);
  });

  it("kills the process with KILL_PROCESS", () => {
    const r = box.run(["sh", "-c", "mkdir /tmp/y"], (s) => {
      s.linux!.seccomp = allowAllBut([
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL_PROCESS" },
      ]);
    });
    assert.equal(r.status, 128 + 31, r.stderr);
  });

  it("lets a LOG action through", () => {
    const r = box.run(["sh", "-c", "mkdir /dev/shm/z && echo made"], (s) => {
      s.linux!.seccomp = allowAllBut([{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_LOG" }]);
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "made\n");
  });

  it("hood's default profile runs a shell and refuses unshare without CAP_SYS_ADMIN", () => {
    const r = box.run(["sh", "-c", "echo hi; unshare -n true; echo unshare=$?"], (s) => {
      s.linux!.seccomp = defaultSeccomp({
        capabilities: s.process!.capabilities!.bounding!,
      }) as LinuxSeccomp;
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^hi\n/);
    assert.match(r.stdout, /unshare=1/);
  });

  it("hood seccomp dump shows the filter the container loaded", () => {
    const bundle = box.bundle({
      args: ["sleep", "30"],
      edit: (s) => {
        s.linux!.seccomp = allowAllBut([
          { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
        ]);
      },
    });
    const id = box.id();
    assert.equal(box.hood(["run", "--detach", "--bundle", bundle, id]).status, 0);
    const dump = box.hood(["seccomp", "dump", id]);
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, /filter 0 of 1/);
    assert.match(dump.stdout, /ERRNO\(1\)|errno 1|ERRNO 1/i);
    assert.equal(box.hood(["delete", "--force", id]).status, 0);
  });
});

describe("seccomp user notification", { skip: needsRoot }, () => {
  const box = new Sandbox();
  const agent = join(box.dir, "notify-agent");
  before(() => {
    const src = fileURLToPath(new URL("./notify-agent.c", import.meta.url));
    const cc = spawnSync("cc", ["-O2", "-o", agent, src], { encoding: "utf8" });
    assert.equal(cc.status, 0, cc.stderr);
  });
  after(() => box.cleanup());

  it("sends the listener fd to listenerPath and the agent answers the call", async () => {
    const sock = join(box.dir, "notify.sock");
    const child = spawn(agent, [sock], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const r = box.run(["sh", "-c", "mkdir /dev/shm/n; echo mkdir=$?"], (s) => {
      s.linux!.seccomp = {
        ...allowAllBut([{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }]),
        listenerPath: sock,
        listenerMetadata: "test-metadata",
      };
    });
    child.kill();
    await new Promise((resolve) => child.on("close", resolve));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /mkdir=1/);
    assert.match(output, /"metadata":"test-metadata"/);
    assert.match(output, /"fds":\["seccompFd"\]/);
    assert.match(output, /syscall (83|258)/);
  });
});
