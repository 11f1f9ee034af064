/**
 * hood's capability decoding and /proc reading against libcap's tools (Debian libcap2-bin):
 * `capsh --decode` for masks, `getpcaps --iab` for processes.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  decodeCaps,
  encodeCaps,
  formatMask,
  lastCap,
  readProcessCaps,
} from "../../../src/linux/capabilities.ts";
import { parseCapText, parseGetpcapsIab, parseIabText } from "./libcap-text.ts";

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const noLibcap =
  has("capsh") && has("getpcaps") ? false : "capsh/getpcaps are not installed (libcap2-bin)";
const notRoot = process.getuid?.() === 0 ? false : "needs root to start processes with other caps";

const LAST = lastCap();
const RUN_CAPS = fileURLToPath(new URL("./run-caps.ts", import.meta.url));

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

function hood(args: string[]): string {
  return run(process.execPath, ["--import", "tsx", RUN_CAPS, ...args]);
}

/** A deterministic 64-bit generator (xorshift64*), so a failure can be replayed. */
function* masks(seed: bigint, count: number): Generator<bigint> {
  let x = seed;
  const m64 = (1n << 64n) - 1n;
  for (let i = 0; i < count; i++) {
    x ^= x >> 12n;
    x ^= (x << 25n) & m64;
    x ^= x >> 27n;
    yield (x * 0x2545f4914f6cdd1dn) & m64;
  }
}

/** Every single bit, each of 0..63, and random masks: dense, sparse, and inside 0..LAST. */
function testMasks(): bigint[] {
  const out: bigint[] = [0n];
  for (let bit = 0; bit < 64; bit++) out.push(1n << BigInt(bit));
  const random = [...masks(0x9e3779b97f4a7c15n, 600)];
  const valid = (1n << BigInt(LAST + 1)) - 1n;
  random.forEach((m, i) => {
    out.push(i % 3 === 0 ? m : i % 3 === 1 ? m & valid : m & (m >> 7n) & (m >> 13n));
  });
  return out;
}

function capshDecode(list: bigint[]): string[] {
  const text = run(
    "capsh",
    list.map((m) => `--decode=${m.toString(16)}`),
  );
  // capsh prints a warning line first when libcap is older than the kernel.
  return text.split("\n").filter((l) => l.startsWith("0x"));
}

describe("decode agrees with capsh --decode", { skip: noLibcap }, () => {
  const list = testMasks();

  test(`for every single bit up to cap_last_cap (${LAST}) and above`, () => {
    const bits = list.slice(1, 65);
    const expected = capshDecode(bits);
    assert.equal(expected.length, 64);
    bits.forEach((mask, i) => {
      assert.equal(`${formatMask(mask)}=${decodeCaps(mask).join(",")}`, expected[i]);
    });
    // Each named capability gets a name from capsh, and hood reads that name back.
    for (let bit = 0; bit <= LAST; bit++) {
      const name = expected[bit]!.split("=")[1]!;
      assert.match(name, /^cap_[a-z_]+$/, `bit ${bit}`);
      assert.equal(encodeCaps([name]), 1n << BigInt(bit));
    }
  });

  test(`for ${list.length} masks, zero and random ones included`, () => {
    const expected = capshDecode(list);
    assert.equal(expected.length, list.length);
    list.forEach((mask, i) => {
      const line = expected[i]!;
      assert.equal(`${formatMask(mask)}=${decodeCaps(mask).join(",")}`, line);
      const names = line.split("=")[1]!;
      assert.equal(encodeCaps(names === "" ? [] : names.split(",")), mask);
    });
  });

  test("hood caps decode prints the same bytes as capsh", () => {
    const sample = list.slice(0, 200);
    const ours = hood(["decode", ...sample.map((m) => formatMask(m))]);
    assert.equal(ours, `${capshDecode(sample).join("\n")}\n`);
  });

  test("hood caps encode reads capsh's names back to the mask", () => {
    const mask = list[70]!;
    const names = capshDecode([mask])[0]!.split("=")[1]!;
    assert.equal(hood(["encode", names]), `${formatMask(mask)}\n`);
  });
});

function getpcaps(pid: number) {
  const line = run("getpcaps", ["--iab", String(pid)]);
  const parsed = parseGetpcapsIab(line);
  assert.equal(parsed.pid, pid);
  return { ...parseCapText(parsed.text, LAST), ...parseIabText(parsed.iab, LAST), iab: parsed };
}

function assertSameAsGetpcaps(pid: number) {
  const ours = readProcessCaps(pid);
  const theirs = getpcaps(pid);
  const show = (m: bigint) => formatMask(m);
  const what = `pid ${pid}: getpcaps says ${JSON.stringify(theirs.iab)}`;
  assert.equal(show(ours.effective), show(theirs.effective), `effective, ${what}`);
  assert.equal(show(ours.permitted), show(theirs.permitted), `permitted, ${what}`);
  assert.equal(show(ours.inheritable), show(theirs.inheritable), `inheritable, ${what}`);
  assert.equal(show(ours.bounding), show(theirs.bounding), `bounding, ${what}`);
  assert.equal(show(ours.ambient), show(theirs.ambient), `ambient, ${what}`);
  return ours;
}

/** Starts `sleep` under a capability-changing wrapper and waits until sleep runs. */
async function startSleeper(cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: "ignore" });
  const pid = child.pid;
  assert.ok(pid, `${cmd} did not start`);
  for (let i = 0; i < 500; i++) {
    let exe = "";
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {}
    if (exe.endsWith("/sleep")) return child;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  assert.fail(`${cmd} ${args.join(" ")} never ran sleep`);
}

describe("pid agrees with getpcaps", { skip: noLibcap || notRoot }, () => {
  const children: ChildProcess[] = [];
  const sleepers: Record<string, number> = {};
  before(async () => {
    const configs: Record<string, [string, string[]]> = {
      "reduced bounding, inheritable and ambient": [
        "setpriv",
        [
          "--bounding-set=-net_raw,-sys_admin,-mknod",
          "--inh-caps=+chown,+kill",
          "--ambient-caps=+chown",
          "sleep",
          "60",
        ],
      ],
      "non-root with an ambient cap": [
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--inh-caps=+net_bind_service",
          "--ambient-caps=+net_bind_service",
          "sleep",
          "60",
        ],
      ],
      "capsh --drop and --inh": [
        "capsh",
        [
          "--drop=cap_net_raw,cap_sys_ptrace",
          "--inh=cap_chown,cap_setuid",
          "--",
          "-c",
          "exec sleep 60",
        ],
      ],
      "no capabilities at all": [
        "setpriv",
        ["--bounding-set=-all", "--inh-caps=-all", "--reuid=65534", "sleep", "60"],
      ],
    };
    for (const [name, [cmd, args]] of Object.entries(configs)) {
      const child = await startSleeper(cmd, args);
      children.push(child);
      sleepers[name] = child.pid!;
    }
  });
  after(() => {
    for (const child of children) child.kill("SIGKILL");
  });

  test("for the test process itself", () => {
    assertSameAsGetpcaps(process.pid);
  });

  test("for pid 1", () => {
    assertSameAsGetpcaps(1);
  });

  test("for a process with a reduced bounding set, inheritable and ambient caps", () => {
    const caps = assertSameAsGetpcaps(sleepers["reduced bounding, inheritable and ambient"]!);
    // The comparison only means something if the sets really differ from the usual ones.
    assert.equal(caps.inheritable, encodeCaps(["cap_chown", "cap_kill"]));
    assert.equal(caps.ambient, encodeCaps(["cap_chown"]));
    assert.equal(caps.bounding & encodeCaps(["cap_net_raw", "cap_sys_admin", "cap_mknod"]), 0n);
  });

  test("for a non-root process holding an ambient cap", () => {
    const caps = assertSameAsGetpcaps(sleepers["non-root with an ambient cap"]!);
    assert.equal(caps.effective, encodeCaps(["cap_net_bind_service"]));
    assert.deepEqual(caps.uids, [65534, 65534, 65534, 65534]);
  });

  test("for a process started by capsh --drop --inh", () => {
    const caps = assertSameAsGetpcaps(sleepers["capsh --drop and --inh"]!);
    assert.equal(caps.inheritable, encodeCaps(["cap_chown", "cap_setuid"]));
  });

  test("for a process with no capabilities", () => {
    const caps = assertSameAsGetpcaps(sleepers["no capabilities at all"]!);
    assert.equal(caps.bounding | caps.permitted | caps.effective, 0n);
  });

  test("hood caps pid --json prints the same sets", () => {
    const pid = sleepers["reduced bounding, inheritable and ambient"]!;
    const report = JSON.parse(hood(["pid", "--json", String(pid)]));
    const theirs = getpcaps(pid);
    for (const set of ["effective", "permitted", "inheritable", "bounding", "ambient"] as const) {
      assert.equal(report[set].mask, formatMask(theirs[set]), set);
      assert.deepEqual(report[set].names, decodeCaps(theirs[set]), set);
    }
    assert.equal(report.pid, pid);
    assert.equal(report.name, "sleep");
    assert.equal(report.securebits.value, null);
  });

  test("hood caps pid prints one line per set", () => {
    const pid = sleepers["non-root with an ambient cap"]!;
    const text = hood(["pid", String(pid)]);
    assert.match(text, new RegExp(`^pid ${pid} \\(sleep\\), uid 65534\\n`));
    assert.match(text, /\n {2}effective: {4}0x0000000000000400 {2}cap_net_bind_service\n/);
    assert.match(text, /\n {2}ambient: {6}0x0000000000000400 {2}cap_net_bind_service\n/);
    assert.match(text, /\n {2}no_new_privs: no\n/);
  });
});
