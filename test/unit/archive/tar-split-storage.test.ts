import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Crc64, crc64 } from "../../../src/archive/crc64.ts";
import { emptyHeader } from "../../../src/archive/tar-header.ts";
import type { TarEntry } from "../../../src/archive/tar-reader.ts";
import { SplitRecorder } from "../../../src/archive/tar-split/recorder.ts";
import {
  decodeEntry,
  encodeEntry,
  goJsonString,
  nameIsText,
} from "../../../src/archive/tar-split/storage.ts";

describe("CRC-64/ISO as Go computes it", () => {
  it("matches the checksum Go's tar-split recorded for hello\\n", () => {
    assert.equal(crc64(Buffer.from("hello\n")).toString("base64"), "YUw+7uLYEAA=");
  });
  it("is the same incrementally, at any alignment", () => {
    const data = Buffer.alloc(10_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const whole = crc64(data);
    for (const cut of [1, 3, 8, 13, 4096]) {
      const c = new Crc64();
      for (let i = 0; i < data.length; i += cut) c.update(data.subarray(i, i + cut));
      assert.deepEqual(c.digest(), whole, `cut ${cut}`);
    }
    assert.equal(crc64(Buffer.alloc(0)).toString("hex"), "0000000000000000");
  });
});

describe("tar-split JSON entries", () => {
  it("escapes strings like Go's encoding/json (HTML-safe, Go 1.19)", () => {
    assert.equal(
      goJsonString('a<b>&"\\\n\t\r\b\f\u2028x'),
      '"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\t\\r\\u0008\\u000c\\u2028x"',
    );
    assert.equal(goJsonString("ünï"), '"ünï"');
  });
  it("writes fields in Go's order and omits empty name and size", () => {
    assert.equal(
      encodeEntry({
        type: 1,
        name: Buffer.from("a/b"),
        size: 6,
        payload: Buffer.from("YUw+7uLYEAA=", "base64"),
        position: 3,
      }),
      '{"type":1,"name":"a/b","size":6,"payload":"YUw+7uLYEAA=","position":3}\n',
    );
    assert.equal(
      encodeEntry({ type: 1, name: Buffer.from("d/"), size: 0, payload: null, position: 1 }),
      '{"type":1,"name":"d/","payload":null,"position":1}\n',
    );
    assert.equal(
      encodeEntry({ type: 2, size: 0, payload: Buffer.alloc(0), position: 9 }),
      '{"type":2,"payload":"","position":9}\n',
    );
  });
  it("stores invalid UTF-8 and U+FFFD names as name_raw", () => {
    const raw = Buffer.from([0x64, 0x2f, 0xff]);
    assert.equal(nameIsText(raw), undefined);
    assert.equal(nameIsText(Buffer.from("a\ufffd")), undefined);
    const line = encodeEntry({ type: 1, name: raw, size: 0, payload: null, position: 0 });
    assert.equal(
      line,
      `{"type":1,"name_raw":"${raw.toString("base64")}","payload":null,"position":0}\n`,
    );
    assert.deepEqual(decodeEntry(line, 1).name, raw);
  });
  it("rejects malformed lines with the line number", () => {
    assert.throws(() => decodeEntry("{", 7), /line 7/);
    assert.throws(() => decodeEntry('{"type":3}', 2), /unknown type/);
    assert.throws(() => decodeEntry('{"type":1,"name":"a","size":5,"payload":null}', 1), /CRC/);
  });
});

describe("the recorder's file lines", () => {
  it("are encodeEntry's, for plain names (written in pieces) and every other kind", () => {
    const names = [
      "a/b.txt",
      "sp ace/~!#$%'()*+,-.:;=?@[]^_`{|}",
      'q"uote',
      "back\\slash",
      "<html>&",
      "del\x7f",
      "tab\t",
      "caf\u00e9",
      "\u2028",
    ].map((n) => Buffer.from(n));
    names.push(Buffer.from([0x61, 0xff, 0x62]));
    for (const name of names) {
      const rec = new SplitRecorder();
      const data = Buffer.from("some bytes");
      const entry: TarEntry = { header: emptyHeader(name), raw: [Buffer.alloc(512)], dataSize: 10 };
      rec.beginEntry(entry);
      rec.data(data.subarray(0, 4));
      rec.data(data.subarray(4));
      rec.endEntry();
      const lines = rec.take().toString("utf8").split("\n");
      const want = encodeEntry({ type: 1, name, size: 10, payload: crc64(data), position: 1 });
      assert.equal(`${lines[1]}\n`, want, name.toString("latin1"));
    }
  });
});
