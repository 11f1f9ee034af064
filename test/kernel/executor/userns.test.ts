import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { step } from "../../../src/setup/program.ts";
import {
  CLONE,
  errorOf,
  execSh,
  makeBusyboxRootfs,
  rootfsSteps,
  runProgram,
  skipUnlessRoot,
} from "../../helpers/executor.ts";

const FLAGS =
  CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC;
const MAPS = { uid: "0 100000 65536", gid: "0 100000 65536" };

describe("executor: a new user namespace with a range map", {
  skip: skipUnlessRoot(),
  timeout: 60_000,
}, () => {
  let rootfs: { path: string; cleanup: () => void };
  before(() => {
    rootfs = makeBusyboxRootfs();
  });
  after(() => rootfs.cleanup());

  const script =
    "echo uid=$(id -u) gid=$(id -g); cat /proc/self/uid_map; grep CapEff /proc/self/status; hostname";
  const steps = () => [
    ...rootfsSteps(rootfs.path),
    step("sethostname", { name: "userns" }),
    step("pivot-root", {}),
    execSh(script),
  ];

  test("start byte 'r' makes the child root in the namespace, with every capability", async () => {
    const r = await runProgram({ flags: FLAGS, maps: MAPS, steps: steps() });
    assert.equal(errorOf(r), undefined, JSON.stringify(r.messages));
    assert.deepEqual(r.status, { code: 0, signal: null }, r.output);
    const lines = r.output.trim().split("\n");
    assert.equal(lines[0], "uid=0 gid=0");
    assert.deepEqual(lines[1]?.trim().split(/\s+/), ["0", "100000", "65536"]);
    // Root in the namespace holds every capability this kernel has.
    const last = BigInt(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
    const all = ((1n << (last + 1n)) - 1n).toString(16).padStart(16, "0");
    assert.equal(lines[2]?.replace(/\s+/, " "), `CapEff: ${all}`);
    assert.equal(lines[3], "userns");
  });

  test("start byte 'g' leaves the child unmapped: it cannot mount", async () => {
    const r = await runProgram({ flags: FLAGS, maps: MAPS, start: 0x67, steps: steps() });
    const e = errorOf(r);
    assert.ok(e, `expected an error, got ${r.output}`);
    assert.equal(e.step, 0, "the first mount fails");
    assert.equal(e.errno, 1, "EPERM");
    assert.deepEqual(r.status, { code: 1, signal: null });
  });
});
