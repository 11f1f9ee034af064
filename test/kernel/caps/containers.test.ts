import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CAP_NAMES,
  type CapabilitySpec,
  capsAfterExec,
  formatMask,
  lastCap,
  planCapabilities,
  planSets,
} from "../../../src/linux/capabilities.ts";
import type { Spec } from "../../../src/oci/runtime-spec.ts";
import { needsRoot, Sandbox } from "../../helpers/hood.ts";

const STATUS = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] as const;

function capLines(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(Cap\w+):\s+([0-9a-f]+)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe("capabilities in containers", { skip: needsRoot }, () => {
  const box = new Sandbox();
  let showCreds = "";
  before(() => {
    showCreds = join(box.dir, "show-creds");
    const src = fileURLToPath(new URL("./show-creds.c", import.meta.url));
    const cc = spawnSync("cc", ["-static", "-O2", "-o", showCreds, src], { encoding: "utf8" });
    assert.equal(cc.status, 0, cc.stderr);
  });
  after(() => box.cleanup());

  /** Every capability the running kernel has, by its OCI name. */
  const full = (): string[] => CAP_NAMES.slice(0, lastCap() + 1).map((n) => n.toUpperCase());

  const cases: [string, CapabilitySpec, number][] = [
    ["empty sets", {}, 0],
    [
      "runc's defaults",
      {
        bounding: ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"],
        effective: ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"],
      },
      0,
    ],
    [
      "inheritable and ambient as root",
      {
        bounding: ["CAP_CHOWN", "CAP_KILL"],
        effective: ["CAP_CHOWN"],
        permitted: ["CAP_CHOWN", "CAP_KILL"],
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      },
      0,
    ],
    [
      "ambient as a non-root user",
      {
        bounding: ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        inheritable: ["CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_NET_BIND_SERVICE"],
      },
      1000,
    ],
    [
      "no ambient as a non-root user",
      {
        bounding: ["CAP_NET_BIND_SERVICE"],
        effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE"],
      },
      1000,
    ],
  ];

  for (const [name, caps, uid] of cases) {
    it(`/proc/1/status equals the mask computed from the spec: ${name}`, () => {
      const r = box.run(["cat", "/proc/self/status"], (s) => {
        s.process!.capabilities = caps;
        s.process!.user = { uid, gid: uid };
      });
      assert.equal(r.status, 0, r.stderr);
      const plan = planCapabilities(caps, { lastCap: lastCap(), changesUid: uid !== 0 });
      const want = capsAfterExec(planSets(plan), { uid });
      const got = capLines(r.stdout);
      assert.equal(got.CapInh, formatMask(want.inheritable).replace(/^0x/, "").padStart(16, "0"));
      assert.equal(got.CapPrm, formatMask(want.permitted).replace(/^0x/, "").padStart(16, "0"));
      assert.equal(got.CapEff, formatMask(want.effective).replace(/^0x/, "").padStart(16, "0"));
      assert.equal(got.CapBnd, formatMask(want.bounding).replace(/^0x/, "").padStart(16, "0"));
      assert.equal(got.CapAmb, formatMask(want.ambient).replace(/^0x/, "").padStart(16, "0"));
    });
  }

  it("gives root every capability hood holds when the spec asks for the full set", () => {
    const all = full();
    const r = box.run(["cat", "/proc/self/status"], (s) => {
      s.process!.capabilities = {
        bounding: all,
        effective: all,
        permitted: all,
        inheritable: all,
        ambient: all,
      };
    });
    assert.equal(r.status, 0, r.stderr);
    // A sandboxed host may withhold some capabilities from hood itself: those are skipped.
    const held = capLines(readFileSync("/proc/self/status", "utf8")).CapBnd;
    const got = capLines(r.stdout);
    for (const key of STATUS) assert.equal(got[key], held, key);
    if (held !== ((1n << BigInt(lastCap() + 1)) - 1n).toString(16).padStart(16, "0")) {
      assert.match(r.stderr, /warning/);
    }
  });

  it("a non-root process with ambient CAP_NET_BIND_SERVICE binds port 80; without it, EACCES", () => {
    const script = "nc -l -p 80 -w 1 & sleep 0.3; kill $! 2>/dev/null && echo bound";
    const withCap = (ambient: string[]) => (s: Spec) => {
      const c = ["CAP_NET_BIND_SERVICE"];
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = {
        bounding: c,
        effective: c,
        permitted: c,
        inheritable: c,
        ambient,
      };
    };
    const yes = box.run(["sh", "-c", script], withCap(["CAP_NET_BIND_SERVICE"]));
    assert.equal(yes.stdout.trim(), "bound", yes.stderr);
    const no = box.run(["sh", "-c", script], withCap([]));
    assert.match(no.stderr, /bind: Permission denied/);
    assert.doesNotMatch(no.stdout, /bound/);
  });

  it("noNewPrivileges stops a setuid binary from gaining root and shows NoNewPrivs: 1", () => {
    const run = (nnp: boolean) => {
      const bundle = box.bundle({
        args: ["/bin/show-creds"],
        edit: (s) => {
          s.process!.user = { uid: 1000, gid: 1000 };
          s.process!.noNewPrivileges = nnp;
        },
      });
      const bin = join(bundle, "rootfs", "bin", "show-creds");
      copyFileSync(showCreds, bin);
      chownSync(bin, 0, 0);
      chmodSync(bin, 0o4755);
      return box.hood(["run", "--bundle", bundle, box.id()]);
    };
    const without = run(false);
    assert.equal(without.status, 0, without.stderr);
    assert.match(without.stdout, /^euid 0$/m);
    assert.match(without.stdout, /NoNewPrivs:\s+0/);
    const withNnp = run(true);
    assert.equal(withNnp.status, 0, withNnp.stderr);
    assert.match(withNnp.stdout, /^euid 1000$/m);
    assert.match(withNnp.stdout, /NoNewPrivs:\s+1/);
  });

  it("a capability dropped from the bounding set cannot come back through a file capability", () => {
    const run = (bounding: string[]) => {
      const bundle = box.bundle({
        args: ["/bin/show-creds"],
        edit: (s) => {
          s.process!.user = { uid: 1000, gid: 1000 };
          s.process!.noNewPrivileges = false;
          s.process!.capabilities = {
            bounding,
            effective: [],
            permitted: [],
            inheritable: [],
            ambient: [],
          };
        },
      });
      const bin = join(bundle, "rootfs", "bin", "show-creds");
      copyFileSync(showCreds, bin);
      const set = spawnSync("setcap", ["cap_net_raw+p", bin], { encoding: "utf8" });
      assert.equal(set.status, 0, set.stderr);
      const r = box.hood(["run", "--bundle", bundle, box.id()]);
      assert.equal(r.status, 0, r.stderr);
      return capLines(r.stdout);
    };
    const NET_RAW = 1n << 13n;
    // Without the effective bit on the file, so that the kernel runs it either way and the
    // permitted set shows what it granted (with +ep it would refuse the exec with EPERM).
    assert.equal(BigInt(`0x${run(["CAP_NET_RAW"]).CapPrm}`) & NET_RAW, NET_RAW);
    assert.equal(BigInt(`0x${run(["CAP_CHOWN"]).CapPrm}`) & NET_RAW, 0n);
  });
});
