/**
 * kill -9 at random moments while a process creates and deletes layers and containers: each
 * time, the next process to open the store finds it consistent (after repairing what the
 * killed one left half done): every record has its files, nothing is on disk without a
 * record, and every layer still exports to exactly the tar its diffID names.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { DriverName } from "../../../src/storage/index.ts";
import { LayerStore } from "../../../src/storage/index.ts";
import {
  BtrfsImage,
  type Fixture,
  isRoot,
  makeFixture,
  mountsBelow,
  tempDir,
  unmountBelow,
} from "./helpers.ts";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "crash-worker.ts");
const ROUNDS = 8;

/** A small deterministic generator (mulberry32): the same kill times on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Starts the worker, waits until it has opened the store, lets it run `ms`, kills it. */
async function runAndKill(
  root: string,
  driver: DriverName,
  fx: Fixture,
  ms: number,
): Promise<void> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", WORKER, root, driver, fx.basePath, fx.childGzPath],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`crash worker exited early (${code})`)));
  });
  await new Promise((r) => setTimeout(r, ms));
  child.kill("SIGKILL");
  await exited;
}

async function consistent(root: string, driver: DriverName): Promise<string[]> {
  const repairs: string[] = [];
  const store = await LayerStore.open({ root, driver, warn: (m) => repairs.push(m) });
  assert.deepEqual(
    await store.check(),
    [],
    `store consistent after repairs:\n${repairs.join("\n")}`,
  );
  for (const l of await store.listLayers()) {
    const h = createHash("sha256");
    await store.exportLayer(l.id, (b) => {
      h.update(b);
    });
    assert.equal(`sha256:${h.digest("hex")}`, l.diffId, `layer ${l.id} exports its original tar`);
  }
  return repairs;
}

function crashSuite(driver: DriverName, where: () => string, seed: number) {
  let fx: Fixture;
  before(() => {
    fx = makeFixture();
  });
  after(() => rmSync(fx.dir, { recursive: true, force: true }));

  it(`reopens consistent after ${ROUNDS} kills at random points`, async (t) => {
    const root = join(where(), `crash-${driver}`);
    const next = random(seed);
    const repairs: string[] = [];
    try {
      for (let i = 0; i < ROUNDS; i++) {
        await runAndKill(root, driver, fx, 20 + Math.floor(next() * 600));
        repairs.push(...(await consistent(root, driver)));
      }
      // The kills must have landed inside operations, or this test proved nothing.
      assert.ok(repairs.length > 0, "no kill interrupted an operation");
      t.diagnostic(
        `${repairs.length} repairs: ${repairs.map((r) => r.replace(/^.*": /, "")).join("; ")}`,
      );
      const store = await LayerStore.open({ root, driver });
      for (const c of await store.listContainers()) await store.remove(c.name);
      for (;;) {
        const layers = await store.listLayers();
        if (layers.length === 0) break;
        for (const l of layers)
          for (let r = l.refs; r >= 0; r--) await store.remove(l.id).catch(() => {});
        await store.prune();
      }
      assert.deepEqual(await store.check(), []);
      assert.deepEqual(mountsBelow(root), []);
    } finally {
      unmountBelow(root);
      rmSync(root, { recursive: true, force: true });
    }
  });
}

describe("storage crash safety, overlay", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("crash-overlay");
  after(() => rmSync(dir, { recursive: true, force: true }));
  crashSuite("overlay", () => dir, 7);
});

describe("storage shared by two processes", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("two-procs");
  let fx: Fixture;
  before(() => {
    fx = makeFixture();
  });
  after(() => {
    unmountBelow(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(fx.dir, { recursive: true, force: true });
  });

  it("stays consistent while two processes change it at once", async () => {
    const root = join(dir, "store");
    await Promise.all([
      runAndKill(root, "overlay", fx, 1500),
      runAndKill(root, "overlay", fx, 1200),
    ]);
    await consistent(root, "overlay");
  });
});

describe("storage crash safety, vfs", { skip: isRoot ? false : "needs root" }, () => {
  const dir = tempDir("crash-vfs");
  after(() => rmSync(dir, { recursive: true, force: true }));
  crashSuite("vfs", () => dir, 11);
});

describe("storage crash safety, btrfs", { skip: BtrfsImage.unavailable() ?? false }, () => {
  let img: BtrfsImage;
  before(() => {
    img = new BtrfsImage();
  });
  after(() => img?.close());
  crashSuite("btrfs", () => img.mnt, 13);
});
