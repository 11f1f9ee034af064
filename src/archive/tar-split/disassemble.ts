/**
 * `tar-split disasm` as a library: reads a tar stream and writes its metadata, discarding the
 * file contents (they are checksummed only). Extraction with capture lives in extract.ts and
 * drives the same SplitRecorder.
 */
import { TarReader, type TarReaderOptions } from "../tar-reader.ts";
import { SplitRecorder } from "./recorder.ts";

const FLUSH_AT = 1 << 20;

/** Reads the whole tar, feeding `write` with metadata (UTF-8 JSON lines); returns the number of entries. */
export async function disassemble(
  tar: AsyncIterable<Uint8Array>,
  write: (metadata: Buffer) => Promise<void>,
  options: TarReaderOptions = {},
): Promise<{ entries: number; bytes: number }> {
  const reader = new TarReader(tar, options);
  const rec = new SplitRecorder();
  let entries = 0;
  for (;;) {
    const entry = await reader.next();
    if (!entry) break;
    entries++;
    rec.beginEntry(entry);
    for (;;) {
      const chunk = await reader.read();
      if (!chunk) break;
      rec.data(chunk);
    }
    rec.endEntry();
    if (rec.buffered >= FLUSH_AT) await write(rec.take());
  }
  await recordEnd(reader, rec);
  await write(rec.take());
  return { entries, bytes: reader.offset };
}

/** Records the end-of-archive bytes and everything after them, as Go does. */
export async function recordEnd(reader: TarReader, rec: SplitRecorder): Promise<void> {
  rec.endOfArchive(reader.endRaw);
  for (;;) {
    const rest = await reader.readRest();
    if (!rest) break;
    rec.trailing(rest);
  }
  rec.finish();
}
