/**
 * The addon's header scan (native/addon/tarhdr.c) against the JavaScript it stands in for
 * (tar-format.ts): on real headers, and on headers with random bytes written into their
 * number fields, the scan either gives exactly parseNumber's numbers and headerFormat's
 * format (checksum matching), or declines (-1) exactly when the JavaScript path would throw or
 * find a checksum mismatch.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BLOCK,
  checksumMatches,
  F,
  headerFormat,
  isZeroBlock,
  parseNumber,
  SCAN,
  SCAN_FORMATS,
  scanHeader,
  writeBase256,
  writeChecksum,
} from "../../../src/archive/tar-format.ts";
import { buildTar } from "./helpers.ts";

/** What the JavaScript path makes of a block: "zero", "bad", or the numbers. */
function reference(block: Buffer): "zero" | "bad" | number[] {
  if (isZeroBlock(block)) return "zero";
  if (!checksumMatches(block)) return "bad";
  const format = headerFormat(block);
  try {
    const n = [
      parseNumber(block, F.mode, "mode"),
      parseNumber(block, F.uid, "uid"),
      parseNumber(block, F.gid, "gid"),
      parseNumber(block, F.size, "size"),
      parseNumber(block, F.mtime, "mtime"),
      format === "v7" ? 0 : parseNumber(block, F.devmajor, "devmajor"),
      format === "v7" ? 0 : parseNumber(block, F.devminor, "devminor"),
      format === "gnu" ? parseNumber(block, F.atime, "atime") : 0,
      format === "gnu" ? parseNumber(block, F.ctime, "ctime") : 0,
      SCAN_FORMATS.indexOf(format),
    ];
    return n;
  } catch {
    return "bad";
  }
}

function check(block: Buffer, what: string): number {
  const out = new Float64Array(SCAN.count);
  const got = scanHeader(block, out);
  const want = reference(block);
  if (want === "zero") assert.equal(got, 1, what);
  else if (want === "bad") assert.equal(got, -1, what);
  else {
    assert.equal(got, 0, what);
    assert.deepEqual(Array.from(out), want, what);
  }
  return got;
}

let seed = 12345;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

const numberFields = [
  F.mode,
  F.uid,
  F.gid,
  F.size,
  F.mtime,
  F.devmajor,
  F.devminor,
  F.atime,
  F.ctime,
];
const alphabet = [0x30, 0x31, 0x37, 0x38, 0x20, 0x00, 0x41, 0x80, 0xff, 0x7f];

describe("the native header scan", () => {
  it("is available (the addon is built)", () => {
    assert.notEqual(scanHeader(Buffer.alloc(BLOCK), new Float64Array(SCAN.count)), -1);
  });

  it("agrees with the JavaScript parse on real and damaged headers of every format", async () => {
    const blocks: Buffer[] = [Buffer.alloc(BLOCK)];
    for (const format of ["ustar", "pax", "gnu"] as const) {
      const tar = await buildTar(
        [
          { name: "a/file", data: Buffer.from("hello") },
          { name: "d/", kind: "directory" },
          {
            name: "big",
            data: Buffer.alloc(3),
            edit: (h) => {
              if (format === "ustar") return;
              h.uid = 0o7777777 + 5; // octal overflow: PAX record or base-256
              h.mtime = { sec: 2 ** 40, nsec: 0 };
            },
          },
        ],
        format,
      );
      for (let off = 0; off + BLOCK <= tar.length; off += BLOCK) {
        const b = tar.subarray(off, off + BLOCK);
        if (!isZeroBlock(b)) blocks.push(Buffer.from(b));
      }
    }
    let ok = 0;
    let declined = 0;
    for (const b of blocks) if (check(b, "real header") === 0) ok++;
    assert.ok(ok >= 6);
    for (let i = 0; i < 4000; i++) {
      const b = Buffer.from(blocks[1 + rnd(blocks.length - 1)]!);
      // Damage one number field: random bytes from an alphabet of edge cases, or base-256.
      const [off, len] = numberFields[rnd(numberFields.length)]!;
      if (rnd(4) === 0) {
        const v = rnd(3) === 0 ? -(rnd(1000) + 1) : rnd(2) ? 2 ** 53 - rnd(3) : rnd(1 << 30);
        if (Math.abs(v) <= Number.MAX_SAFE_INTEGER) writeBase256(b, [off, len], v);
        else b[off] = 0x80;
        if (rnd(5) === 0) b.fill(0xff, off + 1, off + len); // past 2^53
      } else {
        for (let k = 0; k < 1 + rnd(4); k++) b[off + rnd(len)] = alphabet[rnd(alphabet.length)]!;
      }
      if (rnd(4) === 0) b[257 + rnd(8)] = alphabet[rnd(alphabet.length)]!; // the magic
      if (rnd(8) !== 0) writeChecksum(b);
      if (rnd(10) === 0) {
        // the signed checksum some old writers used
        let sum = 8 * 0x20;
        for (let k = 0; k < BLOCK; k++) if (k < 148 || k >= 156) sum += (b[k]! << 24) >> 24;
        b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      }
      if (check(b, `damaged #${i}`) === -1) declined++;
    }
    assert.ok(declined > 100 && declined < 3900, `declined ${declined}`);
  });
});
