/**
 * Archive benchmark: hood's one-pass extraction with tar-split capture against GNU `tar -x`
 * alone and against `tar-split disasm | tar -x`, and hood's `asm` against Go's `asm`, on a tar
 * of many small files and one of a few large files. Inputs are generated in a temp dir.
 *
 * The target (<= 1.2x tar -x) is for extraction with tar-split capture, which is what the two
 * references do. Extraction as a layer store runs it, with both digests (sha256 of the stream:
 * neither reference computes one), is measured beside it: on a CPU-bound file system its
 * sha256 alone takes longer than tar -x takes for everything (see the floor line).
 *
 *   node --import tsx bench/archive.ts                  # ~500 MiB per archive
 *   HOOD_BENCH_SCALE=0.02 node --import tsx bench/archive.ts   # quick smoke run
 *   HOOD_BENCH_DIR=/dev/shm node --import tsx bench/archive.ts # on tmpfs: CPU only, no disk
 *
 * HOOD_BENCH_RUNS rounds (default 3); HOOD_BENCH_ONLY=small|large runs one archive. Each line
 * gives the wall time (median [min-max]), the median CPU time of all threads (user + system:
 * hood spreads its work over threads, GNU tar uses one) and the peak RSS.
 *
 * The machine is shared and noisy, so each round runs every tool once, in a rotated order,
 * after a `sync`, and the ratios are taken per round: the report gives medians with their
 * range. Nothing is deleted until an archive's rounds are over: on ext4, creating files within
 * minutes of deleting many is several times slower (ext4 skips recently freed inodes), which
 * made the times of one tool depend on what ran before it.
 *
 * hood runs as the CLI does, from one esbuild bundle (not through tsx, which costs 0.3 s of
 * start-up), and without NODE_EXTRA_CA_CERTS: this sandbox sets it, and node then parses ~140
 * certificates before running anything (46 ms here), for TLS that extraction never uses.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const scale = Number(process.env.HOOD_BENCH_SCALE ?? "1");
const runs = Number(process.env.HOOD_BENCH_RUNS ?? "3");
const only = process.env.HOOD_BENCH_ONLY;
const root = mkdtempSync(join(process.env.HOOD_BENCH_DIR ?? tmpdir(), "hood-bench-archive-"));
const here = new URL(".", import.meta.url).pathname;
// Inside the package (the addon is found relative to the bundle), out of the source tree.
const worker = join(here, "..", "node_modules", ".cache", "hood-bench", "archive-worker.mjs");
const hoodEnv = { ...process.env };
delete hoodEnv.NODE_EXTRA_CA_CERTS;

interface Run {
  ms: number;
  /** CPU time of all threads and children (user + system). */
  cpuMs: number;
  maxRssKiB: number;
}

function sh(cmd: string): Run {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", "sh", "-c", cmd], { encoding: "utf8" });
  const ms = performance.now() - t0;
  const lines = r.stderr.trim().split("\n");
  if (r.status !== 0) throw new Error(`${cmd}: ${lines.slice(-10).join("\n")}`);
  const [rss, user, sys] = lines[lines.length - 1]!.split(" ").map(Number);
  return { ms, cpuMs: (user! + sys!) * 1000, maxRssKiB: rss! };
}

function hood(args: string[], stdout = "/dev/null"): Run {
  const t0 = performance.now();
  const r = spawnSync("sh", ["-c", `exec node "$@" > ${stdout}`, "sh", worker, ...args], {
    encoding: "utf8",
    env: hoodEnv,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`hood ${args.join(" ")}: ${r.stderr}`);
  const rep = JSON.parse(r.stderr.trim().split("\n").pop()!) as Run;
  return { ms, cpuMs: rep.cpuMs, maxRssKiB: rep.maxRssKiB };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function spread(xs: number[], digits: number): string {
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
}

/** Runs each tool once per round, rotating the order, after a sync; returns all the runs. */
function rounds(tools: Record<string, (round: number) => Run>): Record<string, Run[]> {
  const names = Object.keys(tools);
  const out: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length]!;
      execFileSync("sync");
      out[name]!.push(tools[name]!(r));
    }
  }
  for (const name of names) {
    const rs = out[name]!;
    const rss = Math.max(...rs.map((x) => x.maxRssKiB)) / 1024;
    const ms = spread(
      rs.map((x) => x.ms),
      0,
    );
    const cpu = median(rs.map((x) => x.cpuMs)).toFixed(0);
    process.stderr.write(
      `  ${name.padEnd(36)} ${ms.padStart(20)} ms   CPU ${cpu.padStart(5)} ms   peak RSS ${rss.toFixed(0)} MiB\n`,
    );
  }
  return out;
}

function ratio(label: string, a: Run[], b: Run[], target?: string): string {
  const rs = a.map((x, i) => x.ms / b[i]!.ms);
  return `${label} = ${spread(rs, 2)}${target ? ` (target ${target})` : ""}`;
}

function makeTree(name: string, files: number, size: (i: number) => number): string {
  const src = join(root, name);
  mkdirSync(src);
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  for (let i = 0; i < files; i++) {
    const dir = join(src, `d${i % 300}`);
    if (i < 300) mkdirSync(dir);
    const n = size(i);
    const parts: Buffer[] = [];
    for (let left = n, k = i; left > 0; k++) {
      const take = Math.min(left, block.length - (k % 4096));
      parts.push(block.subarray(k % 4096, (k % 4096) + take));
      left -= take;
    }
    writeFileSync(join(dir, `f${i}`), Buffer.concat(parts));
  }
  const tar = join(root, `${name}.tar`);
  execFileSync("tar", ["-cf", tar, "-C", src, "."]);
  return tar;
}

function bench(label: string, name: string, tar: string) {
  const mib = statSync(tar).size / (1 << 20);
  process.stderr.write(`\n${label}: ${mib.toFixed(0)} MiB, median [min-max] of ${runs} rounds\n`);
  const dir = (tag: string, i: number) => {
    const d = join(root, `${name}-${tag}-${i}`);
    mkdirSync(d);
    return d;
  };
  const meta = join(root, `${name}.hood.gz`);
  const x = rounds({
    "GNU tar -x": (i) => sh(`tar -xf ${tar} -C ${dir("gnu", i)}`),
    "tar-split disasm | tar -x": (i) =>
      sh(
        `tar-split disasm --output ${join(root, `${name}.go.gz`)} ${tar} 2>/dev/null | tar -x -C ${dir("go", i)}`,
      ),
    "hood extract + tar-split (one pass)": (i) => hood(["split", tar, dir("hood", i), meta]),
    "hood extract + tar-split + digests": (i) => hood(["extract", tar, dir("hoodsha", i), meta]),
  });
  const asmDir = join(root, `${name}-hood-0`);
  const a = rounds({
    "Go tar-split asm": () => sh(`tar-split asm --input ${meta} --path ${asmDir} > /dev/null`),
    "hood tar-split asm": () => hood(["asm", meta, asmDir]),
  });
  const floor = JSON.parse(
    spawnSync("node", [worker, "floor", tar], { encoding: "utf8", env: hoodEnv }).stderr,
  ) as Record<string, number>;
  const check = spawnSync("sh", ["-c", `node ${worker} asm ${meta} ${asmDir} | cmp - ${tar}`], {
    env: hoodEnv,
  });
  const hoodX = x["hood extract + tar-split (one pass)"]!;
  const hoodSha = x["hood extract + tar-split + digests"]!;
  process.stderr.write(
    `  hood asm output identical to the input: ${check.status === 0 ? "yes" : "NO"}\n` +
      `  ${ratio("hood / GNU tar -x", hoodX, x["GNU tar -x"]!, "<= 1.2")}\n` +
      `  ${ratio("hood / (disasm | tar -x)", hoodX, x["tar-split disasm | tar -x"]!)}\n` +
      `  ${ratio("hood with both digests / GNU tar -x", hoodSha, x["GNU tar -x"]!)}\n` +
      `  ${ratio("hood asm / Go asm", a["hood tar-split asm"]!, a["Go tar-split asm"]!, "<= 1.0")}\n` +
      `  floor, one thread each: node start ${floor.startMs!.toFixed(0)} ms, read ${floor.readMs!.toFixed(0)} ms, ` +
      `sha256 ${floor.sha256Ms!.toFixed(0)} ms, crc64 ${floor.crc64Ms!.toFixed(0)} ms\n`,
  );
  for (const tag of ["gnu", "go", "hood", "hoodsha"]) {
    for (let i = 0; i < runs; i++)
      rmSync(join(root, `${name}-${tag}-${i}`), { recursive: true, force: true });
  }
  rmSync(join(root, name), { recursive: true, force: true });
}

try {
  await build({
    entryPoints: [join(here, "archive-worker.ts")],
    outfile: worker,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["*.node"],
    banner: {
      js: "import { createRequire as __hoodCreateRequire } from 'node:module'; const require = __hoodCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  if (only !== "large") {
    const smallCount = Math.max(50, Math.round(60_000 * scale));
    const small = makeTree("small", smallCount, (i) => 1024 + ((i * 7919) % 14_000));
    bench(`${smallCount} small files`, "small", small);
  }
  if (only !== "small") {
    const bigCount = 5;
    const bigSize = Math.max(1 << 20, Math.round(100 * (1 << 20) * scale));
    const big = makeTree("large", bigCount, () => bigSize);
    bench(`${bigCount} files of ${(bigSize / (1 << 20)).toFixed(0)} MiB`, "large", big);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
