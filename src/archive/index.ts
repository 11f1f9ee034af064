/** hood's archive library: the tar codec, compression, safe extraction and tar-split. */
export { compress, detectCompression, type LayerDigests, openLayer } from "./compression.ts";
export { Crc64, crc64 } from "./crc64.ts";
export {
  type ExtractOptions,
  type ExtractResult,
  extractLayer,
  extractTar,
  removeAt,
} from "./extract.ts";
export { FILE_CHUNK, fileChunks } from "./file-source.ts";
export { layerFromUpperDir, type UpperDirOptions } from "./overlay-diff.ts";
export type { SparseInfo, TarHeader, TarTime } from "./tar-header.ts";
export { type TarEntry, TarReader, type TarReaderOptions } from "./tar-reader.ts";
export { assemble } from "./tar-split/assemble.ts";
export { disassemble } from "./tar-split/disassemble.ts";
export { MetadataWriter, readMetadataFile } from "./tar-split/metadata-file.ts";
export { decodeEntry, encodeEntry, type SplitEntry } from "./tar-split/storage.ts";
export { encodeHeader, TarWriter, type WriteFormat } from "./tar-writer.ts";
export { OPAQUE_MARKER, WHITEOUT_PREFIX, whiteoutOf } from "./whiteout.ts";
