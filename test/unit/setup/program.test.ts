import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decodeMessage,
  encodeProgram,
  encodeReply,
  MESSAGE_SIZE,
  OPS,
  PROGRAM_MAGIC,
  PROGRAM_VERSION,
  REPLY,
  step,
} from "../../../src/setup/program.ts";

/** The payload of the only step of a one-step program, after checking the headers. */
function payloadOf(buf: Buffer, op: number): Buffer {
  assert.equal(buf.readUInt32LE(0), PROGRAM_MAGIC);
  assert.equal(buf.readUInt32LE(4), PROGRAM_VERSION);
  assert.equal(buf.readUInt32LE(8), 1);
  assert.equal(buf.readUInt32LE(12), 0);
  assert.equal(buf.readUInt32LE(16), op);
  const len = buf.readUInt32LE(20);
  assert.equal(buf.length, 24 + len, "the payload length covers the rest of the program");
  return buf.subarray(24);
}

describe("encodeProgram", () => {
  test("an empty program is the 16-byte header", () => {
    const b = encodeProgram([]);
    assert.equal(b.length, 16);
    assert.equal(b.toString("latin1", 0, 4), "HOOD");
    assert.equal(b.readUInt32LE(4), 1);
    assert.equal(b.readUInt32LE(8), 0);
  });

  test("an int field is 8 bytes little-endian, negatives in two's complement", () => {
    const p = payloadOf(encodeProgram([step("setns", { fd: 7, nstype: -1 })]), OPS.setns.code);
    assert.equal(p.length, 16);
    assert.equal(p.readBigInt64LE(0), 7n);
    assert.deepEqual([...p.subarray(8)], [255, 255, 255, 255, 255, 255, 255, 255]);
  });

  test("an int field keeps bits above 31 (bigint)", () => {
    const p = payloadOf(encodeProgram([step("unshare", { flags: 1n << 33n })]), OPS.unshare.code);
    assert.equal(p.readBigUInt64LE(0), 1n << 33n);
  });

  test("a string is u32 length, bytes, a NUL, and padding to a multiple of 8", () => {
    for (const [text, total] of [
      ["", 4 + 8],
      ["a", 4 + 8],
      ["seven77", 4 + 8],
      ["eight888", 4 + 16],
      ["héllo", 4 + 8],
    ] as const) {
      const p = payloadOf(
        encodeProgram([step("sethostname", { name: text })]),
        OPS.sethostname.code,
      );
      const bytes = Buffer.from(text, "utf8");
      assert.equal(p.length, total, `length for ${JSON.stringify(text)}`);
      assert.equal(p.readUInt32LE(0), bytes.length);
      assert.deepEqual(p.subarray(4, 4 + bytes.length), bytes);
      assert.ok(
        p.subarray(4 + bytes.length).every((x) => x === 0),
        "NUL and padding are zero",
      );
      assert.equal((p.length - 4) % 8, 0);
    }
  });

  test("a string field accepts raw bytes, including NULs", () => {
    const filter = Uint8Array.from([6, 0, 0, 0, 0, 0, 0xff, 0x7f]);
    const p = payloadOf(
      encodeProgram([step("seccomp", { flags: 0, filter, tag: 9 })]),
      OPS.seccomp.code,
    );
    assert.equal(p.readBigInt64LE(0), 0n);
    assert.equal(p.readUInt32LE(8), 8);
    assert.deepEqual([...p.subarray(12, 20)], [...filter]);
    assert.equal(p.length, 8 + 4 + 16 + 8);
    assert.equal(p.readBigInt64LE(p.length - 8), 9n);
  });

  test("a text string with a NUL is refused", () => {
    assert.throws(() => encodeProgram([step("sethostname", { name: "a\0b" })]), TypeError);
  });

  test("a string list is u32 count then each string", () => {
    const p = payloadOf(
      encodeProgram([step("find-exec", { candidates: ["/bin/sh", "x"] })]),
      OPS["find-exec"].code,
    );
    assert.equal(p.readUInt32LE(0), 2);
    assert.equal(p.readUInt32LE(4), 7);
    assert.equal(p.toString("utf8", 8, 15), "/bin/sh");
    assert.equal(p[15], 0);
    assert.equal(p.readUInt32LE(16), 1);
    assert.equal(p.toString("utf8", 20, 21), "x");
    assert.equal(p.length, 4 + 12 + 12);
  });

  test("an int list is u32 count then int64s, unaligned", () => {
    const p = payloadOf(
      encodeProgram([step("setgroups", { gids: [0, 10, 65534n] })]),
      OPS.setgroups.code,
    );
    assert.equal(p.length, 4 + 24);
    assert.equal(p.readUInt32LE(0), 3);
    assert.equal(p.readBigInt64LE(4), 0n);
    assert.equal(p.readBigInt64LE(12), 10n);
    assert.equal(p.readBigInt64LE(20), 65534n);
  });

  test("empty lists and argument-less steps", () => {
    const b = encodeProgram([step("close-fds", { first: 3, keep: [] }), step("pivot-root", {})]);
    assert.equal(b.readUInt32LE(8), 2);
    assert.equal(b.readUInt32LE(16), OPS["close-fds"].code);
    assert.equal(b.readUInt32LE(20), 12);
    assert.equal(b.readBigInt64LE(24), 3n);
    assert.equal(b.readUInt32LE(32), 0);
    assert.equal(b.readUInt32LE(36), OPS["pivot-root"].code);
    assert.equal(b.readUInt32LE(40), 0);
    assert.equal(b.length, 44);
  });

  test("fields follow the signature order", () => {
    const p = payloadOf(
      encodeProgram([
        step("mount", { source: "s", target: "t", fstype: "f", flags: 5, data: "d", how: 3 }),
      ]),
      OPS.mount.code,
    );
    assert.equal(p.toString("utf8", 4, 5), "s");
    assert.equal(p.toString("utf8", 16, 17), "t");
    assert.equal(p.toString("utf8", 28, 29), "f");
    assert.equal(p.readBigInt64LE(36), 5n);
    assert.equal(p.toString("utf8", 48, 49), "d");
    assert.equal(p.readBigInt64LE(56), 3n);
    assert.equal(p.length, 64);
  });

  test("a missing int argument is refused with its step and field", () => {
    assert.throws(
      () => encodeProgram([step("umask", {} as never)]),
      (e: Error) => e instanceof TypeError && e.message.includes("step 0 (umask).mask"),
    );
  });

  test("opcodes are distinct and dense", () => {
    const codes = Object.values(OPS)
      .map((o) => o.code)
      .sort((a, b) => a - b);
    assert.deepEqual(
      codes,
      codes.map((_, i) => i),
    );
  });
});

describe("messages", () => {
  test("decodeMessage reads the 24-byte record", () => {
    const b = Buffer.alloc(MESSAGE_SIZE);
    b.writeUInt32LE(5, 0);
    b.writeInt32LE(-1, 4);
    b.writeInt32LE(2, 8);
    b.writeBigInt64LE(-3n, 16);
    assert.deepEqual(decodeMessage(b), { type: 5, step: -1, errno: 2, value: -3n });
  });

  test("decodeMessage refuses a short record", () => {
    assert.throws(() => decodeMessage(Buffer.alloc(23)), RangeError);
  });

  test("a reply is one u32", () => {
    assert.deepEqual([...encodeReply(REPLY.ABORT)], [2, 0, 0, 0]);
  });
});
