/**
 * One hood operation for bench/archive.ts, run in its own process so its time and peak RSS
 * are its own. Prints {"ms":..,"cpuMs":..,"maxRssKiB":..} on stderr.
 *   extract TAR DIR META   extraction with tar-split capture and both digests (extractLayer)
 *   split TAR DIR META     extraction with tar-split capture alone (extractTar: no digests)
 *   asm META DIR           `hood tar-split asm`, the tar on stdout
 *   floor TAR              the parts on their own, one thread each: node's start, reading the
 *                          tar, its sha256 (node:crypto) and its CRC-64 (the addon)
 */
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { Crc64 } from "../src/archive/crc64.ts";
import { extractLayer, extractTar } from "../src/archive/extract.ts";
import { fileChunks } from "../src/archive/file-source.ts";
import { MetadataWriter } from "../src/archive/tar-split/metadata-file.ts";
import { main as tarSplit } from "../src/cli/tar-split.ts";

const [op, a, b, c] = process.argv.slice(2);
const startMs = performance.now();
const t0 = startMs;
if (op === "extract") {
  const meta = new MetadataWriter(c!);
  await extractLayer(fileChunks(a!), b!, {
    split: (t) => meta.write(t),
  });
  await meta.close();
} else if (op === "split") {
  const meta = new MetadataWriter(c!);
  await extractTar(fileChunks(a!), b!, { split: (t) => meta.write(t) });
  await meta.close();
} else if (op === "asm") {
  const rc = await tarSplit(["asm", "--input", a!, "--path", b!]);
  if (rc !== 0) process.exit(rc);
} else if (op === "floor") {
  // The file read as extraction reads it (fileChunks: 1 MiB views of a mapping), then the
  // hash and the checksum timed around their own calls only.
  let readMs = 0;
  let sha256Ms = 0;
  let crc64Ms = 0;
  const h = createHash("sha256");
  const crc = new Crc64();
  let t = performance.now();
  for await (const chunk of fileChunks(a!)) {
    const t1 = performance.now();
    readMs += t1 - t;
    h.update(chunk);
    const t2 = performance.now();
    crc.update(chunk);
    const t3 = performance.now();
    sha256Ms += t2 - t1;
    crc64Ms += t3 - t2;
    t = performance.now();
  }
  h.digest();
  writeSync(2, JSON.stringify({ startMs, readMs, sha256Ms, crc64Ms }));
  process.exit(0);
} else {
  throw new Error(`unknown op ${op}`);
}
const ms = performance.now() - t0;
const ru = process.resourceUsage();
const cpuMs = (ru.userCPUTime + ru.systemCPUTime) / 1000;
writeSync(2, `${JSON.stringify({ ms, cpuMs, maxRssKiB: ru.maxRSS })}\n`);
