/**
 * Archives of every format feature, made by the reference writers (Python's tarfile and GNU
 * tar) in a temp dir, for the differential and tar-split tests.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PY = String.raw`
import tarfile, io, os, sys, base64
out = sys.argv[1]
def ti(name, kind=tarfile.REGTYPE, size=0, **kw):
    t = tarfile.TarInfo(name); t.type = kind; t.size = size; t.mtime = 1700000000; t.mode = 0o644
    for k, v in kw.items(): setattr(t, k, v)
    return t
def common(t, fmt):
    d = ti("dir/", tarfile.DIRTYPE, mode=0o755); t.addfile(d)
    t.addfile(ti("dir/file.txt", size=6), io.BytesIO(b"hello\n"))
    t.addfile(ti("dir/empty"))
    t.addfile(ti("dir/a<b>&\"q\".txt", size=3), io.BytesIO(b"amp"))
    t.addfile(ti("dir/sub/" + "deep/" * 25 + "n.bin", size=700), io.BytesIO(bytes(range(256)) * 2 + b"x" * 188))
    t.addfile(ti("dir/link", tarfile.SYMTYPE, linkname="file.txt"))
    t.addfile(ti("dir/hard", tarfile.LNKTYPE, linkname="dir/file.txt"))
    t.addfile(ti("dir/fifo", tarfile.FIFOTYPE))
    t.addfile(ti("dir/null", tarfile.CHRTYPE, devmajor=1, devminor=3))
    t.addfile(ti("dir/blk", tarfile.BLKTYPE, devmajor=7, devminor=0))
    t.addfile(ti("dir/exec", size=4, mode=0o4755, uid=1000, gid=1000, uname="user", gname="group"), io.BytesIO(b"#!\n\n"))
    if fmt != tarfile.USTAR_FORMAT:
        t.addfile(ti("dir/" + "L" * 150, size=5), io.BytesIO(b"long\n"))
        t.addfile(ti("dir/longlink", tarfile.SYMTYPE, linkname="T" * 150))
        t.addfile(ti("dir/bad\udcff\udcfe.txt", size=3), io.BytesIO(b"raw"))
        t.addfile(ti("dir/bigid", size=2, uid=3000000, gid=3000000), io.BytesIO(b"id"))
    t.addfile(ti("dir/ünïcødé", size=2), io.BytesIO(b"u\n"))
for fmt, name in [(tarfile.PAX_FORMAT, "py-pax.tar"), (tarfile.GNU_FORMAT, "py-gnu.tar"), (tarfile.USTAR_FORMAT, "py-ustar.tar")]:
    with tarfile.open(os.path.join(out, name), "w", format=fmt, encoding="utf-8", errors="surrogateescape") as t:
        common(t, fmt)
with tarfile.open(os.path.join(out, "py-pax-extra.tar"), "w", format=tarfile.PAX_FORMAT,
                  pax_headers={"comment": "global header"}) as t:
    x = ti("x/", tarfile.DIRTYPE, mode=0o755); t.addfile(x)
    f = ti("x/xattr", size=1)
    f.pax_headers = {"SCHILY.xattr.user.greeting": "hi", "mtime": "1700000000.123456789",
                     "atime": "1700000001.5", "LIBARCHIVE.xattr.user.b64": base64.b64encode(b"\x00\x01bin").decode()}
    t.addfile(f, io.BytesIO(b"x"))
    g = ti("x/longuser", size=0, uname="u" * 40, gname="g" * 40); t.addfile(g)
`;

export interface Fixtures {
  dir: string;
  /** Archive file names in `dir`. */
  archives: string[];
  cleanup(): void;
}

function sh(cmd: string, cwd: string): void {
  execFileSync("sh", ["-c", cmd], { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Builds all fixture archives; the sparse ones need GNU tar. */
export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), "hood-archive-fx-"));
  writeFileSync(join(dir, "gen.py"), PY);
  execFileSync("python3", [join(dir, "gen.py"), dir]);
  const src = join(dir, "src");
  mkdirSync(join(src, "d"), { recursive: true });
  writeFileSync(join(src, "d", "plain"), "plain file\n");
  // A sparse file: data, a hole, data, a hole at the end.
  sh(
    "printf 'head' > d/sparse && dd if=/dev/urandom of=d/sparse bs=1k seek=200 count=3 conv=notrunc 2>/dev/null && truncate -s 2M d/sparse && touch -d @1700000000 d d/plain d/sparse",
    src,
  );
  const gnu = [
    ["gnu-oldgnu-sparse.tar", "--format=gnu --sparse"],
    ["gnu-pax-sparse-0.0.tar", "--format=posix --sparse --sparse-version=0.0"],
    ["gnu-pax-sparse-0.1.tar", "--format=posix --sparse --sparse-version=0.1"],
    ["gnu-pax-sparse-1.0.tar", "--format=posix --sparse --sparse-version=1.0"],
    ["gnu-v7.tar", "--format=v7"],
    ["gnu-posix.tar", "--format=posix"],
  ];
  for (const [name, flags] of gnu) {
    sh(`tar ${flags} --numeric-owner --owner=0 --group=0 -cf ../${name} d`, src);
  }
  return {
    dir,
    archives: [
      "py-pax.tar",
      "py-gnu.tar",
      "py-ustar.tar",
      "py-pax-extra.tar",
      ...gnu.map((g) => g[0]!),
    ],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function isSparseFixture(name: string): boolean {
  return name.includes("sparse");
}
