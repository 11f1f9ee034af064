/**
 * Creating a writable rootfs from a large image, and removing it: hood (overlay, btrfs, vfs)
 * against `podman create` / `podman rm` with the same driver on the same image, in one run.
 *
 *   node --import tsx bench/storage.ts
 *   HOOD_BENCH_SCALE=0.05   a smaller image (default 1: 20k files, ~500 MB)
 *   HOOD_BENCH_RUNS=5       runs per measurement (the median is printed)
 *   HOOD_BENCH_DRIVERS=overlay,btrfs,vfs
 *
 * hood is measured twice: through the CLI (`hood storage create` + `hood storage rm`, each a
 * fresh node process) and through the library in one long-lived process (what an engine
 * does). "O(1)" compares creation on the full image with creation on a 1% image.
 * Needs root, podman, btrfs-progs (for btrfs: a loop-mounted image is made and removed).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverName } from "../src/storage/index.ts";
import { LayerStore } from "../src/storage/index.ts";

const SCALE = Number(process.env.HOOD_BENCH_SCALE ?? "1");
const RUNS = Number(process.env.HOOD_BENCH_RUNS ?? "5");
const DRIVERS = (process.env.HOOD_BENCH_DRIVERS ?? "overlay,btrfs,vfs").split(",") as DriverName[];
const HOOD = join(import.meta.dirname, "..", "bin", "hood");

const work = mkdtempSync(join(tmpdir(), "hood-bench-storage-"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** An image of `files` small files plus `bigBytes` in ten large ones; returns its tar. */
function makeImage(name: string, files: number, bigBytes: number): string {
  const dir = join(work, name);
  let seed = 1;
  const rand = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      b[i] = seed & 0xff;
    }
    return b;
  };
  for (let i = 0; i < files; i++) {
    const d = join(dir, "usr", `d${Math.floor(i / 200)}`);
    if (i % 200 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}`), rand(200 + (i % 1800)));
  }
  mkdirSync(join(dir, "opt"), { recursive: true });
  const chunk = rand(1 << 20);
  for (let i = 0; i < 10; i++) {
    const parts = Math.max(1, Math.round(bigBytes / 10 / (1 << 20)));
    writeFileSync(join(dir, "opt", `big${i}`), Buffer.concat(Array(parts).fill(chunk)));
  }
  const tar = join(work, `${name}.tar`);
  execFileSync("tar", ["-C", dir, "-cf", tar, "."]);
  rmSync(dir, { recursive: true, force: true });
  return tar;
}

async function* chunks(path: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) yield c as Buffer;
}

interface Row {
  driver: string;
  libCreate: number;
  libRm: number;
  cliCreate: number;
  cliRm: number;
  podCreate: number;
  podRm: number;
  smallCreate: number;
}

async function bench(
  driver: DriverName,
  where: string,
  bigTar: string,
  smallTar: string,
): Promise<Row> {
  const root = join(where, "hood");
  const store = await LayerStore.open({ root, driver });
  const big = (await store.importLayer(chunks(bigTar))).layer.id;
  const small = (await store.importLayer(chunks(smallTar))).layer.id;
  const libCreate: number[] = [];
  const libRm: number[] = [];
  const smallCreate: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    libCreate.push(await timedAsync(() => store.createContainer(`lib${i}`, big)));
    libRm.push(await timedAsync(() => store.remove(`lib${i}`)));
    smallCreate.push(await timedAsync(() => store.createContainer(`small${i}`, small)));
    await store.remove(`small${i}`);
  }
  const cliCreate: number[] = [];
  const cliRm: number[] = [];
  const hood = (args: string[]) =>
    run(process.execPath, [HOOD, "storage", "--storage-root", root, ...args]);
  for (let i = 0; i < RUNS; i++) {
    cliCreate.push(timed(() => hood(["create", `cli${i}`, "--layer", big])));
    cliRm.push(timed(() => hood(["rm", `cli${i}`])));
  }

  const run0 = mkdtempSync(join(tmpdir(), "hb-"));
  const pod = [
    "--root",
    join(where, "podman"),
    "--runroot",
    run0,
    "--storage-driver",
    driver,
    "--events-backend",
    "none",
    "--cgroup-manager",
    "cgroupfs",
  ];
  const podCreate: number[] = [];
  const podRm: number[] = [];
  try {
    run("podman", [...pod, "import", bigTar, "localhost/hood-bench:1"]);
    for (let i = 0; i < RUNS; i++) {
      podCreate.push(
        timed(() =>
          run("podman", [
            ...pod,
            "create",
            "--name",
            `p${i}`,
            "localhost/hood-bench:1",
            "/bin/true",
          ]),
        ),
      );
      podRm.push(timed(() => run("podman", [...pod, "rm", `p${i}`])));
    }
  } finally {
    spawnSync("podman", [...pod, "system", "reset", "--force"], { stdio: "ignore" });
    rmSync(run0, { recursive: true, force: true });
  }
  for (const id of [big, small]) await store.remove(id);
  return {
    driver,
    libCreate: median(libCreate),
    libRm: median(libRm),
    cliCreate: median(cliCreate),
    cliRm: median(cliRm),
    podCreate: median(podCreate),
    podRm: median(podRm),
    smallCreate: median(smallCreate),
  };
}

function btrfsMount(): { mnt: string; close(): void } {
  const img = join(work, "btrfs.img");
  const mnt = join(work, "btrfs");
  execFileSync("truncate", ["-s", `${Math.max(2, Math.ceil(SCALE * 4))}G`, img]);
  execFileSync("mkfs.btrfs", ["-q", img], { stdio: "ignore" });
  const loop = execFileSync("losetup", ["--find", "--show", img], { encoding: "utf8" }).trim();
  mkdirSync(mnt);
  execFileSync("mount", [loop, mnt]);
  return {
    mnt,
    close() {
      for (const line of execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" })
        .split("\n")
        .reverse()) {
        const p = line.split(" ")[4];
        if (p?.startsWith(`${mnt}/`)) spawnSync("umount", ["-l", p]);
      }
      spawnSync("umount", [mnt]);
      spawnSync("losetup", ["-d", loop]);
    },
  };
}

const f = (ms: number) => `${ms.toFixed(1)} ms`.padStart(10);

async function main(): Promise<void> {
  const files = Math.round(20000 * SCALE);
  const bigBytes = 480 * (1 << 20) * SCALE;
  process.stderr.write(
    `making images: ${files} files + ${(bigBytes / 2 ** 20).toFixed(0)} MiB, and a 1% one\n`,
  );
  const bigTar = makeImage("big", files, bigBytes);
  const smallTar = makeImage("small", Math.max(1, Math.round(files / 100)), bigBytes / 100);
  const rows: Row[] = [];
  try {
    for (const d of DRIVERS) {
      process.stderr.write(`driver ${d}...\n`);
      if (d === "btrfs") {
        const b = btrfsMount();
        try {
          rows.push(await bench(d, b.mnt, bigTar, smallTar));
        } finally {
          b.close();
        }
      } else {
        const where = join(work, d);
        mkdirSync(where);
        rows.push(await bench(d, where, bigTar, smallTar));
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const out = [
    `rootfs create + remove, image of ${files} files / ${((bigBytes + files * 1100) / 2 ** 20).toFixed(0)} MiB, median of ${RUNS}`,
    "",
    "driver   | hood lib create |   rm     | hood CLI create |   rm     | podman create |   rm     | podman/hood CLI | podman/hood lib | big/1% image",
  ];
  for (const r of rows) {
    out.push(
      [
        r.driver.padEnd(8),
        f(r.libCreate).padStart(15),
        f(r.libRm),
        f(r.cliCreate).padStart(15),
        f(r.cliRm),
        f(r.podCreate).padStart(13),
        f(r.podRm),
        `${((r.podCreate + r.podRm) / (r.cliCreate + r.cliRm)).toFixed(2)}x`.padStart(15),
        `${((r.podCreate + r.podRm) / (r.libCreate + r.libRm)).toFixed(2)}x`.padStart(15),
        `${(r.libCreate / r.smallCreate).toFixed(2)}x`.padStart(12),
      ].join(" | "),
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
