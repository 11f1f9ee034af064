/**
 * Streaming gzip and zstd in both directions, detected from magic bytes. zstd comes from the
 * `zstd-napi` package (Node 20's zlib has none); it is loaded only when a zstd stream is met.
 */
import { createRequire } from "node:module";
import type { Transform } from "node:stream";
import { createGunzip, createGzip, constants as zc } from "node:zlib";
import { HoodError } from "../errors.ts";
import { sha256Stream } from "./sha256.ts";

export type Compression = "none" | "gzip" | "zstd";

/** What the first bytes of a stream say it is (bzip2 and xz are recognised to be refused). */
export function detectCompression(head: Uint8Array): Compression | "bzip2" | "xz" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) return "xz";
  return "none";
}

interface ZstdModule {
  CompressStream: new (params?: Record<string, unknown>) => Transform;
  DecompressStream: new () => Transform;
}

let zstd: ZstdModule | undefined;

function zstdModule(): ZstdModule {
  if (!zstd) {
    // createRequire keeps the bundler from inlining a package that loads a .node file.
    try {
      zstd = createRequire(import.meta.url)("zstd-napi") as ZstdModule;
    } catch (e) {
      throw new HoodError(
        `load zstd support (npm package zstd-napi): ${(e as Error).message}; run \`npm ci\``,
        "ZSTD_UNAVAILABLE",
        { cause: e },
      );
    }
  }
  return zstd;
}

export function decompressor(kind: Compression): Transform | undefined {
  if (kind === "gzip") return createGunzip({ chunkSize: 256 << 10 });
  if (kind === "zstd") return new (zstdModule().DecompressStream)();
  return undefined;
}

export function compressor(kind: Compression, level?: number): Transform | undefined {
  if (kind === "gzip") return createGzip({ level: level ?? zc.Z_DEFAULT_COMPRESSION });
  if (kind === "zstd") {
    return new (zstdModule().CompressStream)(
      level === undefined ? {} : { compressionLevel: level },
    );
  }
  return undefined;
}

/** Resolves when the stream wants more data or is gone (a destroyed stream never drains). */
function drainOrClose(t: Transform): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      t.off("drain", done);
      t.off("close", done);
      resolve();
    };
    t.on("drain", done);
    t.on("close", done);
  });
}

/** Runs chunks through a Transform with backpressure, yielding its output. */
export async function* throughTransform(
  source: AsyncIterable<Uint8Array>,
  t: Transform,
): AsyncGenerator<Buffer> {
  let failed: unknown;
  const pump = (async () => {
    try {
      for await (const c of source) {
        if (t.destroyed) return;
        if (!t.write(c)) await drainOrClose(t);
      }
      if (!t.destroyed) t.end();
    } catch (e) {
      failed = e;
      t.destroy(e as Error);
    }
  })();
  try {
    for await (const c of t) yield c as Buffer;
  } catch (e) {
    throw failed ?? e;
  } finally {
    if (!t.destroyed) t.destroy();
    await pump;
  }
  if (failed) throw failed;
}

/** Yields the first chunk again after looking at it. */
async function peek(
  source: AsyncIterable<Uint8Array>,
): Promise<{ head: Buffer; stream: AsyncGenerator<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  // Four bytes are enough to tell the formats apart.
  const pieces: Buffer[] = [];
  let ended = false;
  while (head.length < 4) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    pieces.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    head = Buffer.concat(pieces);
  }
  const stream = (async function* () {
    for (const p of pieces) yield p;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  })();
  return { head, stream };
}

export interface DecompressOptions {
  /** Fail once the uncompressed stream passes this many bytes (a decompression bomb). */
  maxBytes?: number;
}

/** Digests and sizes of a layer, filled in as its stream is read. */
export interface LayerDigests {
  compression: Compression;
  /** sha256 of the bytes as given (the OCI layer digest), "sha256:<hex>". */
  compressed: string;
  compressedSize: number;
  /** sha256 of the tar stream (the OCI diffID). */
  uncompressed: string;
  uncompressedSize: number;
}

/**
 * Opens a possibly compressed layer stream: returns the tar bytes and, once they are all read,
 * both digests, computed in the same pass.
 */
export function openLayer(
  source: AsyncIterable<Uint8Array>,
  options: DecompressOptions = {},
): { tar: AsyncGenerator<Buffer>; digests: Promise<LayerDigests> } {
  let resolve!: (d: LayerDigests) => void;
  let reject!: (e: unknown) => void;
  const digests = new Promise<LayerDigests>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  digests.catch(() => {});
  const tar = (async function* () {
    // On threads of their own: the stream's consumer (extraction) is not kept waiting.
    const outer = sha256Stream("hash layer");
    let inner: ReturnType<typeof sha256Stream> | undefined;
    let outerSize = 0;
    let innerSize = 0;
    try {
      const hashed = (async function* () {
        for await (const c of source) {
          outer.update(c);
          outerSize += c.length;
          yield c;
        }
      })();
      const { head, stream } = await peek(hashed);
      const kind = detectCompression(head);
      if (kind === "bzip2" || kind === "xz") {
        throw new HoodError(
          `open layer: ${kind} compression is not supported`,
          "UNSUPPORTED_COMPRESSION",
        );
      }
      const t = decompressor(kind);
      if (t) inner = sha256Stream("hash layer");
      const plain = t ? throughTransform(stream, t) : stream;
      const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
      for await (const c of plain) {
        innerSize += c.length;
        if (innerSize > max) {
          throw new HoodError(
            `open layer: uncompressed stream exceeds the limit of ${max} bytes`,
            "TAR_TOO_LARGE",
          );
        }
        // An uncompressed layer is hashed once: its two digests are the same.
        inner?.update(c);
        yield c;
      }
      const compressed = outer.digest();
      resolve({
        compression: kind,
        compressed,
        compressedSize: outerSize,
        uncompressed: inner ? inner.digest() : compressed,
        uncompressedSize: innerSize,
      });
    } catch (e) {
      reject(e);
      throw e;
    } finally {
      outer.close();
      inner?.close();
    }
  })();
  return { tar, digests };
}

/** Compresses a stream (kind "none" passes it through). */
export async function* compress(
  source: AsyncIterable<Uint8Array>,
  kind: Compression,
  level?: number,
): AsyncGenerator<Buffer> {
  const t = compressor(kind, level);
  if (!t) {
    for await (const c of source) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    return;
  }
  yield* throughTransform(source, t);
}
