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
 * fresh node process, run with NODE_EXTRA_CA_CERTS empty) and through the library in one
 * long-lived process (what an engine does). `podman create` does not mount the rootfs (its
 * storage only makes the container layer's directories, or a btrfs snapshot; `podman rm`
 * then has nothing to unmount), so for the drivers with a mount (overlay) two comparisons are
 * printed: hood `create --no-mount` against `podman create`, and hood `create` (mounted)
 * against `podman create` + `podman mount`, with `podman rm` unmounting. "O(1)" compares
 * creation on the full image with creation on a 1% image.
 * Needs root, podman, btrfs-progs (for btrfs: a loop-mounted image is made and removed).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, env });
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

/** One measurement: create and remove, medians in ms. */
interface Pair {
  create: number;
  rm: number;
}

interface Row {
  driver: DriverName;
  /** hood in one long-lived process, rootfs mounted by create (overlay) / not mounted. */
  lib: Pair;
  libNoMount?: Pair;
  /** `hood storage create` (+ `--no-mount`) and `hood storage rm`, each a new node process. */
  cli: Pair;
  cliNoMount?: Pair;
  /** `podman create` + `podman rm`: podman never mounts the rootfs at create. */
  pod: Pair;
  /** `podman create` + `podman mount`, then `podman rm` (which unmounts it). */
  podMounted?: Pair;
  smallCreate: number;
  /** `node -e 0` with the environment the CLI runs with. */
  nodeFloor: number;
}

/** Whether a driver's rootfs is a mount: only then do "mounted" and "not mounted" differ. */
const MOUNTS: Record<DriverName, boolean> = {
  overlay: true,
  lvmthin: true,
  btrfs: false,
  vfs: false,
};

// The CLI runs without the sandbox's NODE_EXTRA_CA_CERTS: node parses that file at start
// (tens of ms), and the storage verbs make no TLS connection (the launcher drops it too).
const CLI_ENV = { ...process.env, NODE_EXTRA_CA_CERTS: "" };

function pair(create: number[], rm: number[]): Pair {
  return { create: median(create), rm: median(rm) };
}

async function bench(
  driver: DriverName,
  where: string,
  bigTar: string,
  smallTar: string,
): Promise<Row> {
  const mounts = MOUNTS[driver];
  const root = join(where, "hood");
  const store = await LayerStore.open({ root, driver });
  const big = (await store.importLayer(chunks(bigTar))).layer.id;
  const small = (await store.importLayer(chunks(smallTar))).layer.id;
  const lc: number[] = [];
  const lr: number[] = [];
  const lnc: number[] = [];
  const lnr: number[] = [];
  const smallCreate: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    lc.push(await timedAsync(() => store.createContainer(`lib${i}`, big)));
    lr.push(await timedAsync(() => store.remove(`lib${i}`)));
    if (mounts) {
      lnc.push(await timedAsync(() => store.createContainer(`libn${i}`, big, { mount: false })));
      lnr.push(await timedAsync(() => store.remove(`libn${i}`)));
    }
    smallCreate.push(await timedAsync(() => store.createContainer(`small${i}`, small)));
    await store.remove(`small${i}`);
  }
  const cc: number[] = [];
  const cr: number[] = [];
  const cnc: number[] = [];
  const cnr: number[] = [];
  const floor: number[] = [];
  const hood = (args: string[]) =>
    run(process.execPath, [HOOD, "storage", "--storage-root", root, ...args], CLI_ENV);
  for (let i = 0; i < RUNS; i++) {
    floor.push(timed(() => run(process.execPath, ["-e", "0"], CLI_ENV)));
    cc.push(timed(() => hood(["create", `cli${i}`, "--layer", big])));
    cr.push(timed(() => hood(["rm", `cli${i}`])));
    if (mounts) {
      cnc.push(timed(() => hood(["create", `clin${i}`, "--layer", big, "--no-mount"])));
      cnr.push(timed(() => hood(["rm", `clin${i}`])));
    }
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
  const image = "localhost/hood-bench:1";
  const pc: number[] = [];
  const pr: number[] = [];
  const pmc: number[] = [];
  const pmr: number[] = [];
  try {
    run("podman", [...pod, "import", bigTar, image]);
    for (let i = 0; i < RUNS; i++) {
      pc.push(
        timed(() => run("podman", [...pod, "create", "--name", `p${i}`, image, "/bin/true"])),
      );
      pr.push(timed(() => run("podman", [...pod, "rm", `p${i}`])));
      if (mounts) {
        pmc.push(
          timed(() => {
            run("podman", [...pod, "create", "--name", `pm${i}`, image, "/bin/true"]);
            run("podman", [...pod, "mount", `pm${i}`]);
          }),
        );
        pmr.push(timed(() => run("podman", [...pod, "rm", `pm${i}`])));
      }
    }
  } finally {
    spawnSync("podman", [...pod, "system", "reset", "--force"], { stdio: "ignore" });
    rmSync(run0, { recursive: true, force: true });
  }
  for (const id of [big, small]) await store.remove(id);
  return {
    driver,
    lib: pair(lc, lr),
    cli: pair(cc, cr),
    pod: pair(pc, pr),
    ...(mounts
      ? { libNoMount: pair(lnc, lnr), cliNoMount: pair(cnc, cnr), podMounted: pair(pmc, pmr) }
      : {}),
    smallCreate: median(smallCreate),
    nodeFloor: median(floor),
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
const x = (ratio: number) => `${ratio.toFixed(2)}x`;

async function main(): Promise<void> {
  const loadBefore = readFileSync("/proc/loadavg", "utf8").trim();
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
    `rootfs create + remove, image of ${files} files / ${((bigBytes + files * 1100) / 2 ** 20).toFixed(0)} MiB, median of ${RUNS}; load average before: ${loadBefore}, after: ${readFileSync("/proc/loadavg", "utf8").trim()}`,
    "hood CLI runs with NODE_EXTRA_CA_CERTS= (empty); node's own start (`node -e 0`, same env) is shown as the floor.",
    "ratio = hood / podman (below 1: hood is faster; the issue's target is 0.33 or less).",
    "",
    "1. As podman does it: create makes the rootfs without mounting it, rm removes an unmounted one",
    "   (hood: `storage create --no-mount` for overlay; btrfs and vfs have nothing to mount).",
    "",
  ];
  const head =
    "driver   | podman create |   rm     | hood CLI create |   rm     | CLI/podman create | CLI/podman both | hood lib create |   rm     | lib/podman both | node floor";
  const line = (r: Row, hoodCli: Pair, hoodLib: Pair, pod: Pair) =>
    [
      r.driver.padEnd(8),
      f(pod.create).padStart(13),
      f(pod.rm),
      f(hoodCli.create).padStart(15),
      f(hoodCli.rm),
      x(hoodCli.create / pod.create).padStart(17),
      x((hoodCli.create + hoodCli.rm) / (pod.create + pod.rm)).padStart(15),
      f(hoodLib.create).padStart(15),
      f(hoodLib.rm),
      x((hoodLib.create + hoodLib.rm) / (pod.create + pod.rm)).padStart(15),
      f(r.nodeFloor),
    ].join(" | ");
  out.push(head);
  for (const r of rows) out.push(line(r, r.cliNoMount ?? r.cli, r.libNoMount ?? r.lib, r.pod));
  const mounted = rows.filter((r) => r.podMounted);
  if (mounted.length > 0) {
    out.push(
      "",
      "2. Mounted rootfs: hood `storage create` (mounts) and `storage rm` (unmounts; the kernel syncs",
      "   overlay's upper filesystem on unmount) against `podman create` + `podman mount` (two",
      "   processes) and `podman rm` of the mounted container (which unmounts it the same way).",
      "",
      head,
    );
    for (const r of mounted) out.push(line(r, r.cli, r.lib, r.podMounted!));
  }
  out.push("", "O(1): hood lib create on the full image / on the 1% image");
  for (const r of rows) out.push(`${r.driver.padEnd(8)} | ${x(r.lib.create / r.smallCreate)}`);
  process.stdout.write(`${out.join("\n")}\n`);
}

await main();
