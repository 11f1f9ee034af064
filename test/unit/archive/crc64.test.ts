/**
 * The addon's CRC-64 (carry-less folding, native/addon/crc64.c) against the portable
 * JavaScript one and Go's recorded values: every length around the folding's block sizes,
 * every alignment, and arbitrary splits of one stream.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Crc64, Crc64Portable } from "../../../src/archive/crc64.ts";

function portable(data: Uint8Array): Buffer {
  return new Crc64Portable().update(data).digest();
}

describe("CRC-64/ISO in the addon", () => {
  it("gives Go's value for hello\\n and 0 for nothing", () => {
    assert.equal(
      new Crc64().update(Buffer.from("hello\n")).digest().toString("base64"),
      "YUw+7uLYEAA=",
    );
    assert.equal(new Crc64().digest().toString("hex"), "0000000000000000");
  });

  it("agrees with the portable version at every length near the folding sizes and alignment", () => {
    const pool = randomBytes(70_000);
    const lengths = [
      0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 255, 256, 257, 383, 384, 1023, 1024, 1025, 4096,
      65_537,
    ];
    for (const n of lengths) {
      for (let align = 0; align < 16; align += 5) {
        const d = pool.subarray(align, align + n);
        assert.deepEqual(
          new Crc64().update(d).digest(),
          portable(d),
          `length ${n} offset ${align}`,
        );
      }
    }
  });

  it("is the same however the stream is cut", () => {
    const data = randomBytes(1 << 20);
    const whole = portable(data);
    for (let trial = 0; trial < 20; trial++) {
      const c = new Crc64();
      for (let i = 0; i < data.length; ) {
        const n = 1 + Math.floor(Math.random() * (trial % 2 ? 300 : 70_000));
        c.update(data.subarray(i, i + n));
        i += n;
      }
      assert.deepEqual(c.digest(), whole, `trial ${trial}`);
    }
  });

  it("starts over after reset()", () => {
    const c = new Crc64().update(Buffer.from("something else"));
    assert.equal(
      c.reset().update(Buffer.from("hello\n")).digest().toString("base64"),
      "YUw+7uLYEAA=",
    );
    const p = new Crc64Portable().update(Buffer.from("x"));
    assert.equal(
      p.reset().update(Buffer.from("hello\n")).digest().toString("base64"),
      "YUw+7uLYEAA=",
    );
  });
});
