import assert from "node:assert/strict";
import { closeSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { addon } from "../../../src/native/addon.ts";
import { MSG, REPLY, step } from "../../../src/setup/program.ts";
import { CLONE, errorOf, runProgram, skipUnlessRoot } from "../../helpers/executor.ts";

describe("executor: fork with CLONE_PARENT", { skip: skipUnlessRoot(), timeout: 60_000 }, () => {
  test("the forked process is node's child, pid 1 of the unshared pid namespace", async () => {
    const native = addon();
    let ppid = "";
    const r = await runProgram({
      steps: [
        step("unshare", { flags: Number(CLONE.NEWPID) }),
        step("fork", { flags: 0 }),
        step("sync", { tag: 1 }),
        step("exec", { candidates: ["/bin/sh"], argv: ["sh", "-c", "echo $$; exit 7"], envp: [] }),
      ],
      onSync: (_m, _pid, messages) => {
        const forked = messages.find((m) => m.type === MSG.FORKED);
        assert.ok(forked, "FORKED comes before the new process's messages");
        ppid =
          /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${forked.value}/status`, "utf8"))?.[1] ?? "";
        return REPLY.GO;
      },
    });
    assert.equal(errorOf(r), undefined);
    assert.deepEqual(r.status, { code: 0, signal: null }, "the old executor leaves with 0");
    const forked = r.messages.find((m) => m.type === MSG.FORKED);
    assert.ok(forked);
    assert.equal(forked.step, 1);
    assert.equal(ppid, String(process.pid));
    assert.equal(r.output, "1\n");
    const pidfd = native.pidfdOpen(Number(forked.value));
    try {
      assert.deepEqual(await native.pidfdWait(pidfd), { code: 7, signal: null });
    } finally {
      closeSync(pidfd);
    }
  });

  test("fork from a pid namespace's init fails with EINVAL at the fork step", async () => {
    const r = await runProgram({
      flags: CLONE.NEWPID,
      steps: [
        step("fork", { flags: 0 }),
        step("exec", { candidates: ["/bin/true"], argv: [], envp: [] }),
      ],
    });
    assert.deepEqual(errorOf(r), { type: MSG.ERROR, step: 0, errno: 22, value: 0n });
  });
});
