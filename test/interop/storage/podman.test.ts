/**
 * Layers stored by podman (containers/storage) with the overlay, vfs and btrfs drivers, in a
 * private root: hood reads their `.tar-split.gz` and rebuilds each layer's tar from podman's
 * own layer files, byte for byte (its sha256 is podman's diff-digest); hood's chain ID for
 * the same tar is podman's layer ID; and hood's metadata says the same as podman's.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assemble, readMetadataFile } from "../../../src/archive/index.ts";
import { LayerStore } from "../../../src/storage/index.ts";
import {
  BtrfsImage,
  type Fixture,
  isRoot,
  makeFixture,
  readChunks,
  tempDir,
  unmountBelow,
} from "../../kernel/storage/helpers.ts";

const havePodman = spawnSync("podman", ["--version"]).status === 0;
const skip = !isRoot
  ? "needs root"
  : !havePodman
    ? "podman not installed (apt-get install podman)"
    : false;

interface PodmanLayer {
  id: string;
  parent?: string;
  "diff-digest": string;
}

/** Where podman keeps a layer's files, per driver. */
function layerDir(root: string, driver: string, id: string): string {
  if (driver === "overlay") return join(root, "overlay", id, "diff");
  if (driver === "btrfs") return join(root, "btrfs", "subvolumes", id);
  return join(root, "vfs", "dir", id);
}

/** The metadata's meaning: file entries as they are, runs of raw segments joined. */
async function normalized(path: string): Promise<string[]> {
  const out: string[] = [];
  let raw: Buffer[] = [];
  const flush = () => {
    const b = Buffer.concat(raw);
    if (b.length > 0) out.push(`raw ${b.toString("base64")}`);
    raw = [];
  };
  for await (const e of readMetadataFile(path)) {
    if (e.type === 2) {
      if (e.payload) raw.push(e.payload);
      continue;
    }
    flush();
    out.push(`file ${e.name?.toString("base64")} ${e.size} ${e.payload?.toString("hex")}`);
  }
  flush();
  return out;
}

async function rebuild(tarSplit: string, dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const fd = openSync(dir, "r");
  try {
    await assemble(readMetadataFile(tarSplit), fd, (b) => {
      parts.push(Buffer.from(b));
    });
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(parts);
}

function podmanSuite(driver: "overlay" | "vfs" | "btrfs", where: () => string) {
  let fx: Fixture;
  let root: string;
  let run: string;
  let podman: (args: string[]) => string;
  before(() => {
    fx = makeFixture();
    root = join(where(), `podman-${driver}`);
    // podman refuses a runroot path over 50 characters.
    run = mkdtempSync(join(tmpdir(), "hp-"));
    const args = [
      "--root",
      join(root, "root"),
      "--runroot",
      run,
      "--storage-driver",
      driver,
      "--events-backend",
      "none",
      "--cgroup-manager",
      "cgroupfs",
    ];
    podman = (a) =>
      execFileSync("podman", [...args, ...a], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
  });
  after(() => {
    spawnSync(
      "podman",
      [
        "--root",
        join(root, "root"),
        "--runroot",
        run,
        "--storage-driver",
        driver,
        "system",
        "reset",
        "--force",
      ],
      { stdio: "ignore" },
    );
    unmountBelow(root);
    unmountBelow(run);
    rmSync(run, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  });

  it(`reads podman's ${driver} tar-split files and rebuilds every layer`, async () => {
    podman(["import", fx.basePath, "localhost/hood-base:1"]);
    const ctx = join(root, "ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "x"), "added by podman\n");
    writeFileSync(
      join(ctx, "Containerfile"),
      "FROM localhost/hood-base:1\nCOPY x /etc/x\nCOPY x /srv/x\n",
    );
    podman(["build", "-q", "-t", "localhost/hood-child:1", ctx]);

    const layersDir = join(root, "root", `${driver}-layers`);
    const layers = JSON.parse(
      readFileSync(join(layersDir, "layers.json"), "utf8"),
    ) as PodmanLayer[];
    assert.ok(layers.length >= 2, "a base layer and at least one built on it");
    for (const l of layers) {
      const tar = await rebuild(
        join(layersDir, `${l.id}.tar-split.gz`),
        layerDir(join(root, "root"), driver, l.id),
      );
      assert.equal(
        `sha256:${createHash("sha256").update(tar).digest("hex")}`,
        l["diff-digest"],
        `layer ${l.id}`,
      );
      if (!l.parent) assert.deepEqual(tar, fx.base, "the imported tar, byte for byte");
    }

    // hood, given the same tar, names the layer as podman does and records the same metadata.
    const store = await LayerStore.open({
      root: join(root, "hood"),
      driver: driver === "btrfs" ? "btrfs" : "vfs",
    });
    const mine = await store.importLayer(readChunks(fx.basePath));
    const base = layers.find((l) => !l.parent)!;
    assert.equal(mine.layer.id, base.id);
    assert.deepEqual(
      await normalized(join(root, "hood", "tar-split", `${mine.layer.id}.tar-split.gz`)),
      await normalized(join(layersDir, `${base.id}.tar-split.gz`)),
    );
    await store.remove(mine.layer.id);
  });
}

// Hooks run in the order they are registered: the suite's own clean-up (podman system reset
// recreates its root) must come before the directory holding it is removed.
describe("podman's overlay layers", { skip }, () => {
  const dir = tempDir("podman-overlay");
  podmanSuite("overlay", () => dir);
  after(() => rmSync(dir, { recursive: true, force: true }));
});

describe("podman's vfs layers", { skip }, () => {
  const dir = tempDir("podman-vfs");
  podmanSuite("vfs", () => dir);
  after(() => rmSync(dir, { recursive: true, force: true }));
});

describe("podman's btrfs layers (loop-mounted image)", {
  skip: skip || (BtrfsImage.unavailable() ?? false),
}, () => {
  let img: BtrfsImage;
  before(() => {
    img = new BtrfsImage();
  });
  podmanSuite("btrfs", () => img.mnt);
  after(() => img?.close());
});
