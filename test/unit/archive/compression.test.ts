import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { compress, detectCompression, openLayer } from "../../../src/archive/compression.ts";
import { chunks } from "./helpers.ts";

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("compression", () => {
  const plain = Buffer.alloc(300_000);
  for (let i = 0; i < plain.length; i++) plain[i] = (i * 7) % 251;

  it("detects gzip, zstd, bzip2, xz and plain data from magic bytes", () => {
    assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), "gzip");
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), "zstd");
    assert.equal(detectCompression(Buffer.from("BZh9")), "bzip2");
    assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58])), "xz");
    assert.equal(detectCompression(Buffer.from("ustar")), "none");
  });

  for (const kind of ["gzip", "zstd", "none"] as const) {
    it(`streams ${kind} both ways and computes both digests in the same pass`, async () => {
      const packed = await collect(compress(chunks(plain, 10_000), kind));
      if (kind !== "none") assert.ok(packed.length < plain.length);
      const { tar, digests } = openLayer(chunks(packed, 999));
      const back = await collect(tar);
      assert.ok(back.equals(plain));
      const d = await digests;
      assert.equal(d.compression, kind);
      assert.equal(d.compressed, sha(packed));
      assert.equal(d.uncompressed, sha(plain));
      assert.equal(d.uncompressedSize, plain.length);
    });
  }

  it("stops a decompression bomb at the byte limit with bounded memory", async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20));
    assert.ok(bomb.length < 100_000);
    const { tar } = openLayer(chunks(bomb, 4096), { maxBytes: 1 << 20 });
    await assert.rejects(collect(tar), { code: "TAR_TOO_LARGE" });
  });

  it("refuses bzip2 and xz clearly", async () => {
    const { tar } = openLayer(chunks(Buffer.from("BZh91AY&SY")));
    await assert.rejects(collect(tar), /bzip2 compression is not supported/);
  });
});
