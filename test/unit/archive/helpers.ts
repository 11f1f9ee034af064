/** Small helpers for the archive tests: in-memory tar building and reading. */

import { type EntryKind, emptyHeader, type TarHeader } from "../../../src/archive/tar-header.ts";
import { type TarEntry, TarReader } from "../../../src/archive/tar-reader.ts";
import { TarWriter, type WriteFormat } from "../../../src/archive/tar-writer.ts";

export async function* chunks(b: Buffer, size = 777): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

export interface Member {
  name: string | Buffer;
  kind?: EntryKind;
  data?: Buffer;
  edit?: (h: TarHeader) => void;
}

export async function buildTar(members: Member[], format: WriteFormat = "pax"): Promise<Buffer> {
  const parts: Buffer[] = [];
  const w = new TarWriter((c) => {
    parts.push(Buffer.from(c));
  }, format);
  for (const m of members) {
    const h = emptyHeader(m.name, m.kind ?? "file");
    h.mtime = { sec: 1700000000, nsec: 0 };
    if (m.data) h.size = m.data.length;
    m.edit?.(h);
    await w.add(h, m.data);
  }
  await w.finish();
  return Buffer.concat(parts);
}

export interface ReadResult {
  entries: Array<{ entry: TarEntry; data: Buffer }>;
}

export async function readAll(tar: Buffer, chunkSize = 777): Promise<ReadResult> {
  const r = new TarReader(chunks(tar, chunkSize));
  const entries: ReadResult["entries"] = [];
  for (;;) {
    const entry = await r.next();
    if (!entry) break;
    const parts: Buffer[] = [];
    for (;;) {
      const c = await r.read();
      if (!c) break;
      parts.push(Buffer.from(c));
    }
    entries.push({ entry, data: Buffer.concat(parts) });
  }
  return { entries };
}
