import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TarReader } from "../../../src/archive/tar-reader.ts";
import { buildTar, chunks, readAll } from "./helpers.ts";

describe("tar writer and reader", () => {
  for (const format of ["pax", "gnu", "ustar"] as const) {
    it(`round-trip every entry kind in ${format}`, async () => {
      const tar = await buildTar(
        [
          { name: "d/", kind: "directory" },
          { name: "d/f", data: Buffer.from("hello") },
          { name: "d/s", kind: "symlink", edit: (h) => (h.linkname = Buffer.from("f")) },
          { name: "d/h", kind: "hardlink", edit: (h) => (h.linkname = Buffer.from("d/f")) },
          {
            name: "d/c",
            kind: "char",
            edit: (h) => {
              h.devmajor = 1;
              h.devminor = 3;
            },
          },
          { name: "d/p", kind: "fifo" },
          { name: `d/${"x/".repeat(60)}deep`, data: Buffer.alloc(1000, 7) },
        ],
        format,
      );
      const { entries } = await readAll(tar);
      assert.deepEqual(
        entries.map((e) => [e.entry.header.name.toString(), e.entry.header.kind, e.data.length]),
        [
          ["d/", "directory", 0],
          ["d/f", "file", 5],
          ["d/s", "symlink", 0],
          ["d/h", "hardlink", 0],
          ["d/c", "char", 0],
          ["d/p", "fifo", 0],
          [`d/${"x/".repeat(60)}deep`, "file", 1000],
        ],
      );
      assert.equal(entries[4]!.entry.header.devminor, 3);
      assert.equal(entries[2]!.entry.header.linkname.toString(), "f");
    });
  }

  it("keeps non-UTF-8 names byte for byte (pax and gnu)", async () => {
    const name = Buffer.from([0x61, 0xff, 0xfe, 0x2f, 0x80, 0x62]);
    for (const format of ["pax", "gnu"] as const) {
      const { entries } = await readAll(await buildTar([{ name, data: Buffer.from("x") }], format));
      assert.deepEqual(entries[0]!.entry.header.name, name);
    }
  });

  it("writes long names as GNU L/K records and PAX path/linkpath, and reads both back", async () => {
    const long = `${"n".repeat(300)}/file`;
    const target = "t".repeat(200);
    for (const format of ["pax", "gnu"] as const) {
      const tar = await buildTar(
        [{ name: long, kind: "symlink", edit: (h) => (h.linkname = Buffer.from(target)) }],
        format,
      );
      const { entries } = await readAll(tar);
      assert.equal(entries[0]!.entry.header.name.toString(), long);
      assert.equal(entries[0]!.entry.header.linkname.toString(), target);
      assert.equal(tar.includes("././@LongLink"), format === "gnu");
    }
  });

  it("uses base-256 in gnu and PAX records in pax for numbers octal cannot hold", async () => {
    const big = 0o77777777 + 5;
    for (const format of ["pax", "gnu"] as const) {
      const tar = await buildTar(
        [
          {
            name: "f",
            edit: (h) => {
              h.uid = big;
              h.gid = big;
            },
          },
        ],
        format,
      );
      const { entries } = await readAll(tar);
      assert.equal(entries[0]!.entry.header.uid, big);
      assert.equal(entries[0]!.entry.header.gid, big);
    }
    await assert.rejects(
      buildTar(
        [
          {
            name: "f",
            edit: (h) => {
              h.uid = big;
            },
          },
        ],
        "ustar",
      ),
      /does not fit/,
    );
  });

  it("round-trips sub-second times and xattrs through PAX", async () => {
    const tar = await buildTar([
      {
        name: "f",
        edit: (h) => {
          h.mtime = { sec: 1700000000, nsec: 5 };
          h.atime = { sec: -2, nsec: 250_000_000 };
          h.xattrs.set("security.capability", Buffer.from([1, 0, 0, 2, 0, 0xff]));
        },
      },
    ]);
    const h = (await readAll(tar)).entries[0]!.entry.header;
    assert.deepEqual(h.mtime, { sec: 1700000000, nsec: 5 });
    assert.deepEqual(h.atime, { sec: -2, nsec: 250_000_000 });
    assert.deepEqual(h.xattrs.get("security.capability"), Buffer.from([1, 0, 0, 2, 0, 0xff]));
  });

  it("raw bytes, data and end bytes concatenate to the original archive", async () => {
    const tar = await buildTar([
      { name: "a", data: Buffer.from("abc") },
      { name: "b".repeat(150), data: Buffer.alloc(513, 1) },
    ]);
    const r = new TarReader(chunks(tar, 100));
    const parts: Buffer[] = [];
    for (;;) {
      const e = await r.next();
      if (!e) break;
      parts.push(...e.raw);
      for (;;) {
        const c = await r.read();
        if (!c) break;
        parts.push(Buffer.from(c));
      }
    }
    parts.push(...r.endRaw);
    for (;;) {
      const c = await r.readRest();
      if (!c) break;
      parts.push(Buffer.from(c));
    }
    assert.ok(Buffer.concat(parts).equals(tar));
  });

  it("has a sticky error: after a corrupt header every call fails the same way", async () => {
    const tar = await buildTar([{ name: "a", data: Buffer.from("abc") }, { name: "b" }]);
    tar[1024 + 10] = tar[1024 + 10]! ^ 0xff; // second header
    const r = new TarReader(chunks(tar));
    assert.ok(await r.next());
    let first: unknown;
    await r.next().catch((e) => {
      first = e;
    });
    assert.match(String((first as Error).message), /checksum/);
    await assert.rejects(r.next(), (e) => e === first);
    await assert.rejects(r.read(), (e) => e === first);
  });

  it("readNow gives what read gives, without a promise when the chunk holds it", async () => {
    const members = [];
    for (let i = 0; i < 40; i++) {
      members.push({ name: `d/f${i}`, data: Buffer.alloc((i * 331) % 3000, i + 1) });
    }
    const tar = await buildTar(members);
    for (const size of [1, 511, 512, 777, 4096, 1 << 20]) {
      const want = await readAll(tar, size);
      const r = new TarReader(chunks(tar, size));
      let now = 0;
      for (const { entry: w, data } of want.entries) {
        const entry = await r.next();
        assert.deepEqual(entry?.header.name, w.header.name);
        const parts: Buffer[] = [];
        for (;;) {
          let c = r.readNow(100);
          if (c !== undefined) now++;
          if (c === undefined) c = await r.read(100);
          if (!c) break;
          assert.ok(c.length <= 100);
          parts.push(Buffer.from(c));
        }
        assert.deepEqual(Buffer.concat(parts), data, `chunks of ${size}`);
      }
      assert.equal(await r.next(), null);
      if (size >= 4096) assert.ok(now > 0);
    }
  });
});
