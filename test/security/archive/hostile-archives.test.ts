/**
 * Hostile tar input: every archive is generated here. Each gets a clear error or a safe
 * extraction with bounded memory, and nothing outside the target is ever created, changed or
 * read (the "zip slip" family: CVE-2018-20834 and CVE-2021-32803/32804 in node-tar,
 * CVE-2019-14271 in docker cp, CVE-2018-15664 symlink races).
 */
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { crc64 } from "../../../src/archive/crc64.ts";
import { extractLayer } from "../../../src/archive/extract.ts";
import { paxRecord } from "../../../src/archive/pax.ts";
import {
  BLOCK,
  F,
  paddingFor,
  writeBase256,
  writeBytes,
  writeChecksum,
  writeOctal,
} from "../../../src/archive/tar-format.ts";
import { TarReader } from "../../../src/archive/tar-reader.ts";
import { assemble } from "../../../src/archive/tar-split/assemble.ts";
import { decodeEntries, encodeEntry } from "../../../src/archive/tar-split/storage.ts";
import { main } from "../../../src/cli/tar-split.ts";

function header(name: string | Buffer, type: string, size: number, linkname = ""): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeBytes(b, F.name, Buffer.from(name).subarray(0, 100));
  writeOctal(b, F.mode, 0o644);
  writeOctal(b, F.uid, 0);
  writeOctal(b, F.gid, 0);
  writeOctal(b, F.size, size);
  writeOctal(b, F.mtime, 1700000000);
  b[156] = type.charCodeAt(0);
  writeBytes(b, F.linkname, Buffer.from(linkname));
  Buffer.from("ustar\x0000", "latin1").copy(b, 257);
  writeChecksum(b);
  return b;
}

function member(
  name: string | Buffer,
  type: string,
  data: Buffer = Buffer.alloc(0),
  linkname = "",
): Buffer {
  return Buffer.concat([
    header(name, type, data.length, linkname),
    data,
    Buffer.alloc(paddingFor(data.length)),
  ]);
}

const END = Buffer.alloc(1024);

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  b = Buffer.from(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < b.length; i += 4096) yield b.subarray(i, i + 4096);
}

async function list(tar: Buffer): Promise<string[]> {
  const r = new TarReader(once(tar));
  const names: string[] = [];
  for (;;) {
    const e = await r.next();
    if (!e) return names;
    names.push(e.header.name.toString());
    while (await r.read()) {}
  }
}

const base = mkdtempSync(join(tmpdir(), "hood-hostile-"));
let n = 0;
let target: string;
let outside: string;
beforeEach(() => {
  n++;
  target = join(base, `t${n}`);
  outside = join(base, `outside${n}`);
  mkdirSync(target);
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), "do not touch\n");
});
after(() => rmSync(base, { recursive: true, force: true }));

function outsideUntouched(): void {
  assert.deepEqual(readFileSync(join(outside, "secret"), "utf8"), "do not touch\n");
  assert.equal(existsSync(join(outside, "evil")), false);
  assert.equal(existsSync(join(base, "evil")), false);
}

describe("bad headers get clear errors", () => {
  it("a truncated archive (inside file data and inside a header)", async () => {
    const tar = Buffer.concat([member("a", "0", Buffer.alloc(2000, 1)), END]);
    await assert.rejects(list(tar.subarray(0, 1000)), { code: "TAR_TRUNCATED" });
    await assert.rejects(
      list(Buffer.concat([member("a", "0"), header("b", "0", 0).subarray(0, 300)])),
      { code: "TAR_TRUNCATED" },
    );
  });

  it("a bad header checksum", async () => {
    const h = header("a", "0", 0);
    h[0] = 0x62;
    await assert.rejects(list(Buffer.concat([h, END])), /checksum mismatch/);
  });

  it("a huge size field with no data behind it, and sizes past 2^53", async () => {
    const h = header("a", "0", 0);
    writeOctal(h, F.size, 0o77777777777);
    writeChecksum(h);
    await assert.rejects(list(Buffer.concat([h, END])), { code: "TAR_TRUNCATED" });
    const big = header("a", "0", 0);
    writeBase256(big, F.size, 0);
    big[F.size[0] + 1] = 0x7f; // 2^88-ish
    writeChecksum(big);
    await assert.rejects(list(Buffer.concat([big, END])), /does not fit in 53 bits/);
  });

  it("a negative base-256 size", async () => {
    const h = header("a", "0", 0);
    writeBase256(h, F.size, -5);
    writeChecksum(h);
    await assert.rejects(list(Buffer.concat([h, END])), /negative size/);
  });

  it("absurd PAX record lengths and PAX headers over the size limit", async () => {
    const rec = Buffer.from("99999999999 path=x\n");
    await assert.rejects(
      list(Buffer.concat([member("p", "x", rec), member("a", "0"), END])),
      /record length/,
    );
    const huge = header("p", "x", 512 << 20); // claims 512 MiB of PAX data
    await assert.rejects(list(Buffer.concat([huge, END])), /larger than the limit/);
  });

  it("NUL bytes inside names (PAX path, GNU long name)", async () => {
    const pax = paxRecord("path", Buffer.from("a\0b"));
    await assert.rejects(
      list(Buffer.concat([member("p", "x", pax), member("a", "0"), END])),
      /NUL/,
    );
    const ln = Buffer.from("evil\0name\0");
    await assert.rejects(
      list(Buffer.concat([member("././@LongLink", "L", ln), member("a", "0"), END])),
      /NUL/,
    );
  });

  it("a 2 MiB GNU long name is refused without being buffered", async () => {
    const h = header("././@LongLink", "L", 2 << 20);
    await assert.rejects(
      list(Buffer.concat([h, Buffer.alloc(4096, 0x61)])),
      /larger than the limit/,
    );
  });

  it("a gzip bomb layer is cut off at the byte limit", async () => {
    const bomb = gzipSync(Buffer.concat([header("big", "0", 200 << 20), Buffer.alloc(200 << 20)]));
    await assert.rejects(extractLayer(once(bomb), target, { maxBytes: 8 << 20 }), {
      code: "TAR_TOO_LARGE",
    });
  });
});

describe("extraction never leaves the target", () => {
  it("'..' in names is refused and absolute names land inside", async () => {
    const tar = Buffer.concat([
      member("../evil", "0", Buffer.from("x")),
      member(`../../../../${base.slice(1)}/evil`, "0", Buffer.from("x")),
      member(`/${outside.slice(1)}/secret`, "0", Buffer.from("overwritten")),
      END,
    ]);
    const r = await extractLayer(once(tar), target);
    assert.equal(r.warnings.length, 2);
    assert.equal(readFileSync(join(target, outside, "secret"), "utf8"), "overwritten");
    outsideUntouched();
  });

  it("a symlink planted earlier in the archive is resolved inside the target", async () => {
    const tar = Buffer.concat([
      member("link", "2", Buffer.alloc(0), outside),
      member("link/secret", "0", Buffer.from("overwritten")),
      END,
    ]);
    // The link's target does not exist inside the target: a clear error, nothing written.
    await assert.rejects(extractLayer(once(tar), target), /open directory "link"/);
    outsideUntouched();
    // Once it exists inside, the same archive writes there.
    mkdirSync(join(target, outside), { recursive: true });
    await extractLayer(once(tar), target);
    assert.equal(readFileSync(join(target, outside, "secret"), "utf8"), "overwritten");
    const rel = Buffer.concat([
      member("rel", "2", Buffer.alloc(0), "../../../../.."),
      member(`rel/${outside.slice(1)}/evil`, "0", Buffer.from("x")),
      END,
    ]);
    await extractLayer(once(rel), target);
    assert.ok(existsSync(join(target, outside, "evil")));
    outsideUntouched();
  });

  it("a file replacing a symlink replaces the link, never writes through it", async () => {
    const tar = Buffer.concat([
      member("f", "2", Buffer.alloc(0), join(outside, "secret")),
      member("f", "0", Buffer.from("new")),
      END,
    ]);
    await extractLayer(once(tar), target);
    assert.ok(lstatSync(join(target, "f")).isFile());
    outsideUntouched();
  });

  it("hardlinks to absolute, '..' and symlinked targets never reach outside", async () => {
    const tar = Buffer.concat([
      member("h1", "1", Buffer.alloc(0), "../../outside/secret"),
      member("l", "2", Buffer.alloc(0), join(outside, "secret")),
      member("h2", "1", Buffer.alloc(0), "l"),
      END,
    ]);
    const r = await extractLayer(once(tar), target);
    assert.equal(r.warnings.length, 1);
    // h2 is a hardlink to the symlink itself, not to the file it names.
    assert.ok(lstatSync(join(target, "h2")).isSymbolicLink());
    await assert.rejects(
      extractLayer(
        once(Buffer.concat([member("h3", "1", Buffer.alloc(0), join(outside, "secret")), END])),
        target,
      ),
      /does not exist in the archive/,
    );
    outsideUntouched();
  });

  it("a file replacing a directory removes the directory inside the target only", async () => {
    mkdirSync(join(target, "d"));
    symlinkSync(outside, join(target, "d", "escape"));
    const tar = Buffer.concat([member("d", "0", Buffer.from("file now")), END]);
    await extractLayer(once(tar), target);
    assert.equal(readFileSync(join(target, "d"), "utf8"), "file now");
    outsideUntouched();
  });

  it("whiteouts cannot delete outside the target", async () => {
    symlinkSync(outside, join(target, "out"));
    for (const m of [
      member("out/.wh.secret", "0"),
      member("out/.wh..wh..opq", "0"),
      member(`../.wh.outside${n}`, "0"),
    ]) {
      await extractLayer(once(Buffer.concat([m, END])), target, { whiteouts: "apply" }).catch(
        (e) => {
          assert.match(String(e.message), /ENOENT/);
        },
      );
      outsideUntouched();
    }
  });
});

describe("tar-split asm reads only below --path and verifies before it emits", () => {
  const meta = (entries: Array<{ name: string; data: Buffer }>) =>
    entries
      .map((e, i) =>
        encodeEntry({
          type: 1,
          name: Buffer.from(e.name),
          size: e.data.length,
          payload: crc64(e.data),
          position: i,
        }),
      )
      .join("");

  async function asm(text: string, root: string): Promise<Buffer> {
    const fd = openSync(root, "r");
    const out: Buffer[] = [];
    try {
      await assemble(decodeEntries(once(Buffer.from(text))), fd, (b) => {
        out.push(Buffer.from(b));
      });
    } finally {
      closeSync(fd);
    }
    return Buffer.concat(out);
  }

  it("'..' and absolute names in metadata cannot read a file outside the root", async () => {
    const secret = readFileSync(join(outside, "secret"));
    for (const name of [
      `../outside${n}/secret`,
      join(outside, "secret"),
      `a/../../outside${n}/secret`,
    ]) {
      await assert.rejects(asm(meta([{ name, data: secret }]), target), /ENOENT/);
    }
  });

  it("symlinks under --path are not followed out", async () => {
    const secret = readFileSync(join(outside, "secret"));
    symlinkSync(join(outside, "secret"), join(target, "file"));
    symlinkSync(outside, join(target, "dir"));
    await assert.rejects(asm(meta([{ name: "file", data: secret }]), target), /ELOOP/);
    await assert.rejects(asm(meta([{ name: "dir/secret", data: secret }]), target), /ENOENT/);
  });

  it("a changed file fails the CRC check before its bytes go out; the CLI exits 1 and leaves no output", async () => {
    writeFileSync(join(target, "f"), "changed");
    const text = meta([{ name: "f", data: Buffer.from("orig!!!") }]);
    const out: Buffer[] = [];
    const fd = openSync(target, "r");
    await assert.rejects(
      assemble(decodeEntries(once(Buffer.from(text))), fd, (b) => {
        out.push(b);
      }),
      /CRC-64/,
    );
    closeSync(fd);
    assert.equal(out.length, 0);
    const metaFile = join(base, `m${n}.gz`);
    writeFileSync(metaFile, gzipSync(text));
    const outFile = join(base, `o${n}.tar`);
    assert.equal(
      await main(["asm", "--input", metaFile, "--path", target, "--output", outFile]),
      1,
    );
    assert.equal(existsSync(outFile), false);
  });

  it("a large changed file never has its last piece written", async () => {
    const orig = Buffer.alloc(6 << 20, 1);
    const changed = Buffer.from(orig);
    changed[changed.length - 1] = 2;
    writeFileSync(join(target, "big"), changed);
    let written = 0;
    const fd = openSync(target, "r");
    await assert.rejects(
      assemble(decodeEntries(once(Buffer.from(meta([{ name: "big", data: orig }])))), fd, (b) => {
        written += b.length;
      }),
      /CRC-64/,
    );
    closeSync(fd);
    assert.ok(written < orig.length);
  });
});
