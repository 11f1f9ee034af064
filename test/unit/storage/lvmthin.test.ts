/** The lvmthin driver without a pool: commands, names, lvm2's errors, the order of steps. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CommandRunner,
  devicePath,
  idOfLv,
  LvmThinDriver,
  lvm,
  lvName,
  type Mounter,
  parseLvmError,
  parseLvs,
  parseThinPool,
} from "../../../src/storage/drivers/lvmthin.ts";

const pool = { vg: "vg0", pool: "thin" };
const L = "a".repeat(64);
const P = "b".repeat(64);

/** Records commands and mounts; answers from a table of canned results. */
function fakes(fail: Record<string, string> = {}) {
  const log: string[] = [];
  const mounted = new Set<string>();
  const run: CommandRunner = (argv) => {
    log.push(argv.join(" "));
    const hit = Object.keys(fail).find((k) => argv.join(" ").includes(k));
    if (hit) return { status: 5, stdout: "", stderr: fail[hit]! };
    if (argv[0] === "lvs")
      return {
        status: 0,
        stdout: `  hood-l-${L}|thin\n  hood-c-${P}|thin\n  other|thin\n  hood-l-x|pool2\n`,
        stderr: "",
      };
    return { status: 0, stdout: "", stderr: "" };
  };
  const mounter: Mounter = {
    unavailable: () => null,
    mount(device, dir, fs, ro) {
      log.push(`mount ${device} ${dir} ${fs}${ro ? " ro" : ""}`);
      mounted.add(dir);
    },
    unmount(dir) {
      if (mounted.delete(dir)) log.push(`umount ${dir}`);
    },
    isMounted: (dir) => mounted.has(dir),
    removeDir(dir) {
      log.push(`rmdir ${dir}`);
    },
    listMountDirs: () => [],
  };
  return { log, run, mounter, mounted };
}

const ctx = (options: Record<string, string> = { thinpool: "vg0/thin" }) => ({
  home: "/st/lvmthin",
  options,
  warn: () => {},
});

describe("lvmthin commands", () => {
  it("builds lvm2 command lines", () => {
    assert.deepEqual(lvm.createThin(pool, "hood-l-x", 1 << 30), [
      "lvcreate",
      "--yes",
      "--type",
      "thin",
      "--virtualsize",
      "1073741824b",
      "--thinpool",
      "thin",
      "--name",
      "hood-l-x",
      "vg0",
    ]);
    assert.deepEqual(lvm.snapshot(pool, "hood-l-p", "hood-c-c"), [
      "lvcreate",
      "--yes",
      "--snapshot",
      "--setactivationskip",
      "n",
      "--name",
      "hood-c-c",
      "vg0/hood-l-p",
    ]);
    assert.deepEqual(lvm.activate(pool, "n"), [
      "lvchange",
      "--activate",
      "y",
      "--ignoreactivationskip",
      "vg0/n",
    ]);
    assert.deepEqual(lvm.rename(pool, "a", "b"), ["lvrename", "vg0", "a", "b"]);
    assert.deepEqual(lvm.remove(pool, "n"), ["lvremove", "--yes", "--force", "vg0/n"]);
    assert.equal(lvm.mkfs("xfs", "/dev/x")[0], "mkfs.xfs");
    assert.equal(lvm.mkfs("ext4", "/dev/x").at(-1), "/dev/x");
  });

  it("names volumes after IDs and reads the IDs back", () => {
    assert.equal(lvName("layer", L), `hood-l-${L}`);
    assert.equal(lvName("container", "tmp-0123456789abcdef"), "hood-c-tmp-0123456789abcdef");
    assert.ok(lvName("layer", L).length <= 127, "lvm2's name limit");
    assert.deepEqual(idOfLv(`hood-c-${P}`), { kind: "container", id: P });
    assert.equal(idOfLv("root"), null);
    assert.throws(() => lvName("layer", "../x"), /cannot name a volume/);
  });

  it("finds device-mapper nodes with dashes doubled", () => {
    assert.equal(devicePath("my-vg", "hood-l-ab"), "/dev/mapper/my--vg-hood--l--ab");
  });

  it("reads VG/POOL and refuses anything else", () => {
    assert.deepEqual(parseThinPool("vg0/thin"), pool);
    for (const bad of [undefined, "", "vg0", "vg0/thin/x", "-vg/thin", "vg/th in", "../x"]) {
      assert.throws(() => parseThinPool(bad), { code: "USAGE" }, String(bad));
    }
  });

  it("lists only the volumes of the pool", () => {
    assert.deepEqual(parseLvs("  a|thin\n  b|other\n\n  c|thin\n", "thin"), ["a", "c"]);
  });

  it("turns lvm2's messages into codes, skipping warnings", () => {
    const cases: [string, string][] = [
      ['  Volume group "vg9" not found\n  Cannot process volume group vg9\n', "ENOENT"],
      ['  Failed to find logical volume "vg0/hood-l-x"\n', "ENOENT"],
      ['  Logical volume "hood-l-x" already exists in volume group "vg0"\n', "EEXIST"],
      ["  Insufficient free space: 256 extents needed, but only 10 available\n", "ENOSPC"],
      [
        "  Cannot create new thin volume, free space in thin pool vg0/thin reached threshold.\n",
        "ENOSPC",
      ],
      ["  Logical volume vg0/hood-c-x contains a filesystem in use.\n", "EBUSY"],
      [
        "  /dev/mapper/control: open failed: No such device\n  Failure to communicate with kernel device-mapper driver.\n",
        "ENODEV",
      ],
      ["  WARNING: something harmless\n  Odd failure\n", "EIO"],
    ];
    for (const [stderr, code] of cases) assert.equal(parseLvmError(stderr).code, code, stderr);
    assert.equal(parseLvmError("  WARNING: x\n  Odd failure\n").message, "Odd failure");
    assert.equal(parseLvmError("").message, "failed without a message");
  });
});

describe("lvmthin driver steps", () => {
  it("makes a base layer: thin volume, filesystem, mount, fill, unmount", async () => {
    const f = fakes();
    const d = new LvmThinDriver(ctx({ thinpool: "vg0/thin", size: "1G" }), f.run, f.mounter);
    let filled = "";
    await d.createLayer(L, undefined, async (dir) => {
      filled = dir;
    });
    const lv = `hood-l-${L}`;
    assert.equal(filled, `/st/lvmthin/mnt/${lv}`);
    assert.deepEqual(f.log, [
      `lvcreate --yes --type thin --virtualsize 1073741824b --thinpool thin --name ${lv} vg0`,
      `mkfs.ext4 -q -m 0 -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 /dev/mapper/vg0-hood--l--${"a".repeat(64)}`,
      `mount /dev/mapper/vg0-hood--l--${"a".repeat(64)} ${filled} ext4`,
      `rmdir ${filled}/lost+found`,
      `umount ${filled}`,
      `rmdir ${filled}`,
    ]);
  });

  it("makes a child layer and a container as thin snapshots", async () => {
    const f = fakes();
    const d = new LvmThinDriver(ctx(), f.run, f.mounter);
    await d.createLayer(L, P, async () => {});
    assert.match(
      f.log[0]!,
      new RegExp(`^lvcreate --yes --snapshot .* --name hood-l-${L} vg0/hood-l-${P}$`),
    );
    assert.match(f.log[1]!, /^lvchange --activate y --ignoreactivationskip/);
    f.log.length = 0;
    const path = await d.createContainer(P, [L]);
    assert.equal(path, d.containerPath(P));
    assert.ok(d.isMounted(P));
    assert.match(f.log[0]!, new RegExp(`--name hood-c-${P} vg0/hood-l-${L}$`));
    await d.removeContainer(P);
    assert.ok(!d.isMounted(P));
    assert.equal(f.log.at(-1), `lvremove --yes --force vg0/hood-c-${P}`);
  });

  it("unmounts even when filling fails, and reports lvm2's line with its code", async () => {
    const f = fakes();
    const d = new LvmThinDriver(ctx(), f.run, f.mounter);
    await assert.rejects(
      d.createLayer(L, undefined, async () => {
        throw new Error("bad tar");
      }),
      /bad tar/,
    );
    assert.equal(f.mounted.size, 0);
    const g = fakes({
      lvcreate: "  Insufficient free space: 1 extents needed, but only 0 available\n",
    });
    const e = new LvmThinDriver(ctx(), g.run, g.mounter);
    await assert.rejects(
      e.createLayer(L, undefined, async () => {}),
      {
        code: "ENOSPC",
        message: /^lvmthin: lvcreate vg0: Insufficient free space/,
      },
    );
  });

  it("treats removing a volume that is gone as done", async () => {
    const f = fakes({ lvremove: '  Failed to find logical volume "vg0/hood-l-x"\n' });
    await new LvmThinDriver(ctx(), f.run, f.mounter).removeLayer(L);
  });

  it("lists its own layers and containers only", async () => {
    const f = fakes();
    const d = new LvmThinDriver(ctx(), f.run, f.mounter);
    assert.deepEqual(await d.listLayers(), [L]);
    assert.deepEqual(await d.listContainers(), [P]);
  });

  it("says why it cannot run without device-mapper, before touching anything", async () => {
    const f = fakes();
    f.mounter.unavailable = () =>
      "cannot open /dev/mapper/control: ENOENT (no such file or directory)";
    await assert.rejects(new LvmThinDriver(ctx(), f.run, f.mounter).init(), {
      code: "ENODEV",
      message: /^storage driver lvmthin: cannot open \/dev\/mapper\/control/,
    });
    assert.deepEqual(f.log, []);
  });

  it("needs a thin pool and a known filesystem", () => {
    assert.throws(() => new LvmThinDriver(ctx({})), /lvmthin\.thinpool=VG\/POOL/);
    assert.throws(() => new LvmThinDriver(ctx({ thinpool: "a/b", fs: "zfs" })), /want ext4 or xfs/);
  });
});
