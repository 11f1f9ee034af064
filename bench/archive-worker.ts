/**
 * One hood operation for bench/archive.ts, run in its own process so its time and peak RSS
 * are its own. Prints {"ms":..,"maxRssKiB":..} on stderr.
 *   extract TAR DIR META   extraction with tar-split capture
 *   asm META DIR           `hood tar-split asm`, the tar on stdout
 *   floor TAR              the parts on their own, one thread each: node's start, reading the
 *                          tar, its sha256 (node:crypto) and its CRC-64 (the addon)
 */
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { Crc64 } from "../src/archive/crc64.ts";
import { extractLayer } from "../src/archive/extract.ts";
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
} else if (op === "asm") {
  const rc = await tarSplit(["asm", "--input", a!, "--path", b!]);
  if (rc !== 0) process.exit(rc);
} else if (op === "floor") {
  const chunks: Buffer[] = [];
  let t = performance.now();
  for await (const chunk of fileChunks(a!)) chunks.push(chunk);
  const readMs = performance.now() - t;
  t = performance.now();
  const h = createHash("sha256");
  for (const chunk of chunks) h.update(chunk);
  h.digest();
  const sha256Ms = performance.now() - t;
  t = performance.now();
  const crc = new Crc64();
  for (const chunk of chunks) crc.update(chunk);
  const crc64Ms = performance.now() - t;
  writeSync(2, JSON.stringify({ startMs, readMs, sha256Ms, crc64Ms }));
  process.exit(0);
} else {
  throw new Error(`unknown op ${op}`);
}
const ms = performance.now() - t0;
writeSync(2, `${JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
