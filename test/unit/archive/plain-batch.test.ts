/**
 * Runs of plain files in one addon call (plain-batch.ts, native/addon/tarbatch.c) against the
 * ordinary path (`batch: false`): the same tar-split bytes, the same tree, the same entries and
 * warnings, the same error, on real and damaged headers, names with every byte, runs that end
 * at every kind of unusual entry, and chunks that split a header or data at every offset.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { type ExtractOptions, extractTar } from "../../../src/archive/extract.ts";
import { PlainBatch } from "../../../src/archive/plain-batch.ts";
import { BLOCK, F, writeBase256, writeChecksum } from "../../../src/archive/tar-format.ts";
import type { WriteFormat } from "../../../src/archive/tar-writer.ts";
import { WriteQueue } from "../../../src/archive/write-queue.ts";
import { buildTar, type Member } from "./helpers.ts";

const base = mkdtempSync(join(tmpdir(), "hood-plain-batch-"));
after(() => rmSync(base, { recursive: true, force: true }));
let dirs = 0;

/** How many entries the batches took (a spy on commit): the tests must exercise them. */
let batched = 0;
const commit = PlainBatch.prototype.commit;
PlainBatch.prototype.commit = function (this: PlainBatch, ...args: Parameters<typeof commit>) {
  batched += args[1];
  return commit.apply(this, args);
};

type Source = () => AsyncIterable<Uint8Array>;

/** A tar cut at the given offsets (each piece a buffer of its own). */
function cutAt(tar: Buffer, cuts: number[]): Source {
  return async function* () {
    let at = 0;
    for (const c of [...cuts, tar.length]) {
      if (c > at) yield Buffer.from(tar.subarray(at, c));
      at = Math.max(at, c);
    }
  };
}

function inChunks(tar: Buffer, size: number): Source {
  const cuts: number[] = [];
  for (let i = size; i < tar.length; i += size) cuts.push(i);
  return cutAt(tar, cuts);
}

/** Made up by the extraction (parents the archive does not list, overlay whiteouts): times are now's. */
const RECENT_MS = Date.now() - 86_400_000;

/**
 * Everything observable of a tree: names as bytes (hex), type, mode, owner, times (but those of
 * what the extraction made up), contents (a digest).
 */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: Buffer, rel: string) => {
    for (const name of readdirSync(abs, { encoding: "buffer" }).sort(Buffer.compare)) {
      const p = Buffer.concat([abs, Buffer.from("/"), name]);
      const r = `${rel}/${name.toString("hex")}`;
      const st = lstatSync(p);
      // (reading a file for its digest may set its atime, and the atime of its hardlinks)
      const time = [st.mtimeMs, st.atimeMs].map((t) => (t > RECENT_MS ? "now" : t)).join("/");
      let what = `${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${time} ${st.size}`;
      if (st.isFile()) what += ` ${createHash("sha1").update(readFileSync(p)).digest("hex")}`;
      if (st.isSymbolicLink())
        what += ` -> ${readlinkSync(p, { encoding: "buffer" }).toString("hex")}`;
      if (st.isCharacterDevice()) what += ` rdev ${st.rdev}`;
      out.push(what);
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(Buffer.from(dir), "");
  return out;
}

interface Outcome {
  result: unknown;
  meta: string;
  tree: string[];
}

async function extractOnce(src: Source, options: ExtractOptions): Promise<Outcome> {
  const dir = join(base, `x${dirs++}`);
  mkdirSync(dir);
  const meta: Buffer[] = [];
  let result: unknown;
  try {
    const r = await extractTar(src(), dir, {
      ...options,
      split: async (m) => {
        meta.push(Buffer.from(m));
      },
    });
    result = { entries: r.entries, warnings: r.warnings };
  } catch (e) {
    result = { error: (e as Error).message, code: (e as { code?: string }).code };
  }
  const out = { result, meta: Buffer.concat(meta).toString("latin1"), tree: snapshot(dir) };
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/** Extracts with and without batches and asserts the same outcome; returns it. */
async function same(src: Source, what: string, options: ExtractOptions = {}): Promise<Outcome> {
  const batch = await extractOnce(src, options);
  const plain = await extractOnce(src, { ...options, batch: false });
  assert.deepEqual(batch.result, plain.result, `${what}: result`);
  assert.equal(batch.meta, plain.meta, `${what}: tar-split metadata`);
  assert.deepEqual(batch.tree, plain.tree, `${what}: tree`);
  return batch;
}

function data(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

const plainFiles = (n: number, prefix = "d/"): Member[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix}f${i}`,
    data: data([0, 1, 100, 511, 512, 513, 1500, 4000][i % 8]!, i),
    edit: (h) => {
      h.mode = [0o644, 0o600, 0o755, 0o444][i % 4]!;
      h.mtime = { sec: 1700000000 + i, nsec: 0 };
    },
  }));

/** The tar with the header block of entry `index` changed by `edit` (checksum fixed unless told). */
function withHeader(tar: Buffer, index: number, edit: (b: Buffer) => void, fixSum = true): Buffer {
  const t = Buffer.from(tar);
  let at = 0;
  for (let i = 0; i < index; i++) {
    const size = Number.parseInt(
      t
        .toString("latin1", at + 124, at + 136)
        .replace(/\0.*$/, "")
        .trim() || "0",
      8,
    );
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  const block = t.subarray(at, at + BLOCK);
  edit(block);
  if (fixSum) writeChecksum(block);
  return t;
}

describe("runs of plain files in one call", () => {
  it("is available (the addon is built)", () => {
    assert.ok(PlainBatch.create(64 << 10));
  });

  for (const format of ["ustar", "gnu", "pax"] as WriteFormat[]) {
    it(`gives what the ordinary path gives (${format}, chunks of every kind of size)`, async () => {
      const tar = await buildTar(
        [{ name: "d", kind: "directory" }, ...plainFiles(40), ...plainFiles(5, "./e/")],
        format,
      );
      const before = batched;
      for (const size of [1, 511, 512, 513, 777, 4096, 65536, tar.length]) {
        await same(inChunks(tar, size), `${format}, chunks of ${size}`);
      }
      assert.ok(batched - before > 40, "the batches took entries");
    });
  }

  it("splits a header, its padding or its data at every offset", async () => {
    // h0 [0,512) data [512,513) padding; h1 [1024,1536) data [1536,2049) padding; h2 [2560,3072)
    // without data; h3 [3072,3584) data [3584,3684); ...
    const tar = await buildTar(
      [1, 513, 0, 100, 1500, 2].map((n, i) => ({ name: `f${i}`, data: data(n, i) })),
      "ustar",
    );
    // The ordinary path does not depend on where the chunks end: one reference for all cuts.
    const want = await extractOnce(cutAt(tar, []), { batch: false });
    const before = batched;
    const cuts: number[][] = [];
    for (let cut = 0; cut <= 1100; cut++) cuts.push([cut]);
    for (let cut = 1101; cut <= 4200; cut += 11) cuts.push([cut]);
    for (let cut = 500; cut < 1600; cut += 37) cuts.push([cut, cut + 513]);
    for (const c of cuts) {
      const got = await extractOnce(cutAt(tar, c), {});
      assert.deepEqual(got, want, `cut at ${c.join(" and ")}`);
    }
    assert.ok(batched - before > cuts.length, "the batches took entries");
  });

  for (const whiteouts of ["keep", "apply", "overlay"] as const) {
    it(`takes names with every byte the ordinary way's way (whiteouts: ${whiteouts})`, async () => {
      const members: Member[] = [{ name: "d", kind: "directory" }];
      for (let b = 1; b < 256; b++) {
        members.push({ name: Buffer.from([0x64, 0x2f, 0x61, b, 0x7a]), data: data(b, b) });
        members.push({ name: Buffer.from([0x64, 0x2f, b]), data: data(3, b) });
      }
      const tar = await buildTar(members, "ustar");
      await same(inChunks(tar, 1 << 18), `bytes, ${whiteouts}`, { whiteouts });
    });

    it(`cleans odd paths as the ordinary path does (whiteouts: ${whiteouts})`, async () => {
      const names = [
        "a",
        "./b",
        "/c",
        "//c2",
        "././c3",
        "x/./y",
        "x//z",
        "x/../w",
        "../up",
        "x/..",
        "x/.",
        "./",
        ".",
        "..",
        "x/",
        ".wh.",
        ".wh.a",
        "x/.wh.y",
        "x/.wh..wh..opq",
        "x/.wh",
        "deep/er/still/f",
        "a/under-a-file",
        "a",
      ];
      const members: Member[] = [{ name: "x", kind: "directory" }];
      for (const [i, name] of names.entries()) members.push({ name, data: data(i * 10, i) });
      const tar = await buildTar(members, "gnu");
      await same(inChunks(tar, 1 << 18), `odd paths, ${whiteouts}`, { whiteouts });
    });
  }

  it("ends a run at every kind of unusual entry and starts again after it", async () => {
    const unusual: Array<[string, Member[]]> = [
      ["directory", [{ name: "d/sub", kind: "directory" }]],
      [
        "symlink",
        [{ name: "d/ln", kind: "symlink", edit: (h) => (h.linkname = Buffer.from("f0")) }],
      ],
      [
        "hardlink",
        [{ name: "d/hl", kind: "hardlink", edit: (h) => (h.linkname = Buffer.from("d/f0")) }],
      ],
      ["fifo", [{ name: "d/fifo", kind: "fifo" }]],
      [
        "char device",
        [
          {
            name: "d/null",
            kind: "char",
            edit: (h) => {
              h.devmajor = 1;
              h.devminor = 3;
            },
          },
        ],
      ],
      [
        "xattr",
        [{ name: "d/x", data: data(10, 1), edit: (h) => h.xattrs.set("user.a", Buffer.from("b")) }],
      ],
      ["PAX path", [{ name: `d/${"p".repeat(120)}`, data: data(10, 2) }]],
      [
        "PAX mtime",
        [{ name: "d/t", data: data(10, 3), edit: (h) => (h.mtime = { sec: 5, nsec: 5 }) }],
      ],
      ["large file", [{ name: "d/big", data: data(70_000, 4) }]],
      ["just the record limit", [{ name: "d/limit", data: data(64 << 10, 5) }]],
      ["set-uid file", [{ name: "d/suid", data: data(10, 6), edit: (h) => (h.mode = 0o4755) }]],
      [
        "other owner",
        [
          {
            name: "d/own",
            data: data(10, 7),
            edit: (h) => {
              h.uid = 1000;
              h.gid = 1000;
            },
          },
        ],
      ],
      ["same name twice", [{ name: "d/f1", data: data(20, 8) }]],
      ["file in a new directory", [{ name: "new/f", data: data(20, 9) }]],
      ["empty file", [{ name: "d/empty" }]],
    ];
    for (const [what, middle] of unusual) {
      for (const format of ["ustar", "gnu", "pax"] as WriteFormat[]) {
        let tar: Buffer;
        try {
          tar = await buildTar(
            [
              { name: "d", kind: "directory" },
              ...plainFiles(3),
              ...middle,
              ...plainFiles(3, "d/g"),
            ],
            format,
          );
        } catch {
          continue; // the format cannot hold it (xattrs, sub-second times outside PAX)
        }
        await same(inChunks(tar, 1 << 18), `${what} (${format})`);
      }
    }
  });

  it("ends a run at a GNU long name, a sparse file and a global header", async () => {
    const long = await buildTar(
      [
        { name: "d", kind: "directory" },
        ...plainFiles(3),
        { name: `d/${"l".repeat(150)}`, data: data(9, 1) },
        ...plainFiles(3, "d/h"),
      ],
      "gnu",
    );
    await same(inChunks(long, 1 << 18), "GNU long name");
    const sparse = await buildTar(
      [
        { name: "d", kind: "directory" },
        ...plainFiles(2),
        {
          name: "d/sparse",
          data: data(1024, 3),
          edit: (h) => {
            h.sparse = { format: "1.0", map: [{ offset: 4096, length: 1024 }], realSize: 8192 };
          },
        },
        ...plainFiles(2, "d/s"),
      ],
      "pax",
    );
    await same(inChunks(sparse, 1 << 18), "sparse");
    const global = await buildTar(
      [
        { name: "d", kind: "directory" },
        ...plainFiles(2),
        { name: "g", kind: "global", edit: (h) => h.pax.set("mtime", Buffer.from("12345")) },
        ...plainFiles(2, "d/after"),
      ],
      "pax",
    );
    await same(inChunks(global, 1 << 18), "global header");
  });

  it("gives the ordinary path's answer for damaged and unusual headers", async () => {
    const tar = await buildTar([{ name: "d", kind: "directory" }, ...plainFiles(4)], "ustar");
    const g = await buildTar([{ name: "d", kind: "directory" }, ...plainFiles(4)], "gnu");
    const edits: Array<[string, Buffer, number, (b: Buffer) => void, boolean?]> = [
      ["bad checksum", tar, 2, (b) => (b[F.chksum[0]] = 0x37), false],
      ["checksum off by one", tar, 2, (b) => (b[0] = b[0]! ^ 1), false],
      ["junk in size", tar, 2, (b) => (b[F.size[0] + 3] = 0x39)],
      ["junk after mode", tar, 2, (b) => (b[F.mode[0] + 7] = 0x41)],
      ["junk in uid", tar, 2, (b) => (b[F.uid[0]] = 0x2d)],
      ["base-256 uid", tar, 2, (b) => writeBase256(b, F.uid, 77)],
      ["base-256 size", tar, 2, (b) => writeBase256(b, F.size, 100)],
      ["negative mtime", tar, 2, (b) => writeBase256(b, F.mtime, -5)],
      ["negative size", tar, 2, (b) => writeBase256(b, F.size, -1)],
      ["typeflag NUL", tar, 2, (b) => (b[156] = 0)],
      [
        "typeflag NUL, trailing slash",
        tar,
        2,
        (b) => {
          b[156] = 0;
          b.write("d/sl/", 0, "latin1");
          b.fill(0, 5, 100);
        },
      ],
      ["typeflag 7", tar, 2, (b) => (b[156] = 0x37)],
      ["typeflag unknown lowercase", tar, 2, (b) => (b[156] = 0x61)],
      ["typeflag unknown uppercase", tar, 2, (b) => (b[156] = 0x51)],
      ["typeflag directory", tar, 2, (b) => (b[156] = 0x35)],
      ["empty name", tar, 2, (b) => b.fill(0, 0, 100)],
      ["ustar prefix", tar, 2, (b) => b.write("d", 345, "latin1")],
      [
        "ustar prefix, empty name",
        tar,
        2,
        (b) => {
          b.write("d", 345, "latin1");
          b.fill(0, 0, 100);
        },
      ],
      ["ustar version 01 (v7 then)", tar, 2, (b) => b.write("01", 263, "latin1")],
      ["v7 magic", tar, 2, (b) => b.fill(0, 257, 265)],
      ["GNU atime", g, 2, (b) => b.write("00000001234\0", F.atime[0], "latin1")],
      ["GNU bad atime", g, 2, (b) => b.write("0000000x234\0", F.atime[0], "latin1")],
      ["a name of 100 bytes", tar, 2, (b) => b.write(`d/${"n".repeat(98)}`, 0, "latin1")],
      ["a zero block in the middle", tar, 2, (b) => b.fill(0), false],
      ["bad devmajor", tar, 2, (b) => (b[F.devmajor[0]] = 0x38)],
    ];
    for (const [what, t, index, edit, fix] of edits) {
      const changed = withHeader(t, index, edit, fix ?? true);
      for (const size of [1 << 18, 700])
        await same(inChunks(changed, size), `${what}, chunks of ${size}`);
    }
    // cut short inside a run
    for (const end of [1000, 1536, 2100, tar.length - 1024]) {
      await same(cutAt(tar.subarray(0, end), []), `truncated at ${end}`);
    }
  });

  it("gives the ordinary path's answer on random archives cut at random places (property)", async () => {
    const segment = fc.constantFrom(
      "a",
      "b",
      "d",
      ".",
      "..",
      "",
      "é",
      ".wh.a",
      "x&y",
      'q"',
      "long".repeat(30),
    );
    const member = fc.record({
      path: fc.array(segment, { minLength: 1, maxLength: 3 }),
      kind: fc.constantFrom("file", "file", "file", "directory", "symlink"),
      size: fc.constantFrom(0, 1, 100, 511, 512, 513, 3000),
      mode: fc.constantFrom(0o644, 0o600, 0o4755, 0o777),
      seed: fc.nat({ max: 255 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(member, { maxLength: 25 }),
        fc.constantFrom("pax", "gnu", "ustar") as fc.Arbitrary<WriteFormat>,
        fc.constantFrom("keep", "apply", "overlay") as fc.Arbitrary<"keep" | "apply" | "overlay">,
        fc.array(fc.nat({ max: 40_000 }), { maxLength: 4 }),
        async (ms, format, whiteouts, cuts) => {
          const members: Member[] = ms.map((m) => ({
            name: m.path.join("/"),
            kind: m.kind as Member["kind"],
            data: m.kind === "file" ? data(m.size, m.seed) : undefined,
            edit: (h) => {
              h.mode = m.mode;
              if (m.kind === "symlink") h.linkname = Buffer.from("a");
            },
          }));
          let tar: Buffer;
          try {
            tar = await buildTar(members, format);
          } catch {
            return; // a name the format cannot hold
          }
          await same(
            cutAt(
              tar,
              [...cuts].sort((a, b) => a - b),
            ),
            "random",
            { whiteouts },
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("creates a run's files on this thread, as the ordinary path does, when the queue is behind", async () => {
    // The queue's backlog read as "behind": both paths then create files on the JS thread.
    const backlog = WriteQueue.prototype.backlog;
    WriteQueue.prototype.backlog = function (this: WriteQueue) {
      return this.ringBytes;
    };
    try {
      const tar = await buildTar(
        [{ name: "d", kind: "directory" }, ...plainFiles(40), ...plainFiles(5, "./e/")],
        "ustar",
      );
      const before = batched;
      for (const size of [700, 1 << 18])
        await same(inChunks(tar, size), `behind, chunks of ${size}`);
      for (const whiteouts of ["apply", "overlay"] as const) {
        await same(inChunks(tar, 1 << 18), `behind, ${whiteouts}`, { whiteouts });
      }
      assert.ok(batched - before > 40, "the batches took entries");
    } finally {
      WriteQueue.prototype.backlog = backlog;
    }
  });

  it("commit checks what it is given and refuses offsets outside the name", async () => {
    const tar = await buildTar(plainFiles(2, ""), "ustar");
    const b = PlainBatch.create(64 << 10)!;
    const { TarReader } = await import("../../../src/archive/tar-reader.ts");
    const reader = new TarReader(cutAt(tar, [])());
    assert.equal(await b.scan(reader), 2);
    assert.equal(b.name(0), "f0");
    assert.equal(b.size(1), 1);
    const wq = new WriteQueue("test");
    try {
      b.decide(0, -1, 0, 5, 0o644, 0, false);
      assert.throws(() => b.commit(reader, 1, wq, 0, undefined), /name offsets out of range/);
      b.decide(0, -1, 1, 0, 0o644, 0, false);
      assert.throws(() => b.commit(reader, 1, wq, 0, undefined), /name offsets out of range/);
      assert.throws(() => b.commit(reader, 3, wq, 0, undefined), RangeError);
    } finally {
      wq.close();
    }
  });
});
