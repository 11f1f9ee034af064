/**
 * The kernel rules hood's capability plan relies on, checked against the real kernel through
 * setpriv(1) and capsh(1): what execve leaves in each set (`capsAfterExec`), and which sets
 * capset and PR_CAP_AMBIENT_RAISE refuse (`planCapabilities` problems and warnings).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import {
  CAP_NAMES,
  type CapSets,
  capsAfterExec,
  encodeCaps,
  formatMask,
  lastCap,
  parseProcStatus,
  planCapabilities,
  readProcessCaps,
} from "../../../src/linux/capabilities.ts";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const skip =
  process.getuid?.() !== 0
    ? "needs root to change capabilities"
    : !has("setpriv") || !has("capsh")
      ? "setpriv (util-linux) or capsh (libcap2-bin) is not installed"
      : false;

const LAST = lastCap();

/** Runs `setpriv OPTIONS cat /proc/self/status` and returns what cat saw after its execve. */
function statusUnder(options: string[]) {
  const r = spawnSync("setpriv", [...options, "cat", "/proc/self/status"], { encoding: "utf8" });
  assert.equal(r.status, 0, `setpriv ${options.join(" ")}: ${r.stderr}`);
  return parseProcStatus(r.stdout);
}

function assertSets(actual: CapSets, expected: CapSets, what: string) {
  for (const set of ["effective", "permitted", "inheritable", "bounding", "ambient"] as const) {
    assert.equal(formatMask(actual[set]), formatMask(expected[set]), `${set} of ${what}`);
  }
}

describe("capsAfterExec predicts what the kernel leaves after execve", { skip }, () => {
  // The sets setpriv holds just before it execs cat: its own, changed by the options.
  const self = readProcessCaps(process.pid);
  const chown = encodeCaps(["cap_chown"]);
  const nbs = encodeCaps(["cap_net_bind_service"]);

  test("root with a reduced bounding set and inheritable and ambient caps", () => {
    const bounding = self.bounding & ~encodeCaps(["cap_net_raw", "cap_sys_admin"]);
    const seen = statusUnder([
      "--bounding-set=-net_raw,-sys_admin",
      "--inh-caps=+chown,+kill",
      "--ambient-caps=+chown",
    ]);
    const before = { ...self, bounding, inheritable: chown | 0x20n, ambient: chown };
    assertSets(seen, capsAfterExec(before, { uid: 0 }), "root");
    // Root gets the whole bounding set back, whatever it held as permitted.
    assert.equal(seen.permitted, bounding);
  });

  test("root with an empty bounding set ends up with nothing", () => {
    const seen = statusUnder(["--bounding-set=-all", "--inh-caps=-all"]);
    const before = { ...self, bounding: 0n, inheritable: 0n, ambient: 0n };
    assertSets(seen, capsAfterExec(before, { uid: 0 }), "root without bounding");
    assert.equal(seen.effective, 0n);
  });

  test("a non-root process keeps exactly its ambient caps", () => {
    const seen = statusUnder([
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=+net_bind_service,+chown",
      "--ambient-caps=+net_bind_service",
    ]);
    const before = { ...self, inheritable: nbs | chown, ambient: nbs };
    assertSets(seen, capsAfterExec(before, { uid: 65534 }), "uid 65534");
    assert.equal(seen.permitted, nbs);
  });

  test("a non-root process without ambient caps has none", () => {
    const seen = statusUnder(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    assertSets(
      seen,
      capsAfterExec({ ...self, inheritable: 0n, ambient: 0n }, { uid: 65534 }),
      "uid 65534",
    );
    assert.equal(seen.permitted | seen.effective, 0n);
  });

  test("a real uid of 0 with another effective uid gets permitted but not effective caps", () => {
    const seen = statusUnder(["--euid=65534"]);
    assertSets(
      seen,
      capsAfterExec({ ...self, inheritable: 0n, ambient: 0n }, { uid: 0, euid: 65534 }),
      "uid 0, euid 65534",
    );
    assert.equal(seen.effective, 0n);
    assert.notEqual(seen.permitted, 0n);
  });

  test("SECBIT_NOROOT takes root's capabilities away at execve", () => {
    const seen = statusUnder([
      "--securebits=+noroot",
      "--inh-caps=+chown",
      "--ambient-caps=+chown",
    ]);
    const before = { ...self, inheritable: chown, ambient: chown };
    assertSets(seen, capsAfterExec(before, { uid: 0, noRoot: true }), "noroot");
    assert.equal(seen.permitted, chown);
  });
});

function capsh(args: string[]): number | null {
  return spawnSync("capsh", args, { encoding: "utf8" }).status;
}

const ALL = CAP_NAMES.slice(0, LAST + 1);
const without = (...names: string[]) => ALL.filter((n) => !names.includes(n));

describe("the plan refuses what the kernel refuses", { skip }, () => {
  test("an inheritable cap outside the bounding set", () => {
    assert.notEqual(capsh(["--drop=cap_mknod", "--inh=cap_mknod"]), 0);
    assert.equal(capsh(["--drop=cap_net_raw", "--inh=cap_mknod"]), 0);
    const refused = planCapabilities(
      { bounding: without("CAP_MKNOD"), inheritable: ["CAP_MKNOD"] },
      { lastCap: LAST, changesUid: false },
    );
    assert.deepEqual(
      refused.problems.map((p) => p.path),
      ["process.capabilities.inheritable[0]"],
    );
    const allowed = planCapabilities(
      { bounding: without("CAP_NET_RAW"), inheritable: ["CAP_MKNOD"] },
      { lastCap: LAST, changesUid: false },
    );
    assert.deepEqual(allowed.problems, []);
  });

  test("an effective cap that is not permitted", () => {
    assert.notEqual(capsh(["--caps=cap_chown+e"]), 0);
    assert.equal(capsh(["--caps=cap_chown+ep"]), 0);
    const plan = planCapabilities(
      { bounding: ALL, effective: ["CAP_CHOWN"], permitted: [] },
      { lastCap: LAST, changesUid: false },
    );
    assert.deepEqual(
      plan.problems.map((p) => p.path),
      ["process.capabilities.effective[0]"],
    );
  });

  test("an ambient cap that is not both permitted and inheritable is not raised", () => {
    // Permitted but not inheritable, then inheritable but not permitted (capsh needs
    // CAP_SETPCAP for its own bookkeeping, so that one stays permitted).
    assert.notEqual(capsh(["--addamb=cap_chown"]), 0);
    assert.notEqual(capsh(["--caps=cap_setpcap+ep cap_chown+i", "--addamb=cap_chown"]), 0);
    assert.equal(capsh(["--caps=cap_setpcap+ep cap_chown+ip", "--addamb=cap_chown"]), 0);
    assert.equal(capsh(["--inh=cap_chown", "--addamb=cap_chown"]), 0);
    const plan = planCapabilities(
      {
        bounding: ALL,
        permitted: ALL,
        effective: ALL,
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_CHOWN", "CAP_KILL"],
      },
      { lastCap: LAST, changesUid: false },
    );
    assert.deepEqual(plan.ambient, [5]);
    assert.equal(plan.warnings.length, 1);
    assert.match(plan.warnings[0]!, /CAP_CHOWN/);
  });
});
