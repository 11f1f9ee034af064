/**
 * tar-split's metadata records, encoded exactly as Go's `encoding/json` writes tar-split's
 * `storage.Entry`: one JSON object per line with the fields type, name, name_raw, size, payload,
 * position in that order; `name` only for names that are valid UTF-8 without U+FFFD, else
 * `name_raw` (base64); payload base64 (a segment's raw bytes, or a file's CRC-64/ISO).
 */
import { HoodError } from "../../errors.ts";

export const FILE_TYPE = 1;
export const SEGMENT_TYPE = 2;

export interface SplitEntry {
  type: typeof FILE_TYPE | typeof SEGMENT_TYPE;
  /** The entry name as bytes (file entries). */
  name?: Buffer;
  size: number;
  /** Raw bytes (segments), the 8-byte CRC (files), or null (Go's nil). */
  payload: Buffer | null;
  position: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** tar-split's test for "store as name": valid UTF-8 that decodes to no U+FFFD. */
export function nameIsText(name: Uint8Array): string | undefined {
  try {
    const s = utf8.decode(name);
    return s.includes("\ufffd") ? undefined : s;
  } catch {
    return undefined;
  }
}

/** A JSON string literal as Go's encoder writes it (HTML-safe, U+2028/9 escaped, Go 1.19 rules). */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26) {
      if (c === 0x22) esc = '\\"';
      else if (c === 0x5c) esc = "\\\\";
      else if (c === 0x0a) esc = "\\n";
      else if (c === 0x0d) esc = "\\r";
      else if (c === 0x09) esc = "\\t";
      else esc = `\\u00${c.toString(16).padStart(2, "0")}`;
    } else if (c === 0x2028 || c === 0x2029) {
      esc = `\\u${c.toString(16)}`;
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return `${out + s.slice(start)}"`;
}

/** One line (with its newline) in Go's field order. */
export function encodeEntry(e: SplitEntry): string {
  let line = `{"type":${e.type}`;
  if (e.name && e.name.length > 0) {
    const text = nameIsText(e.name);
    if (text !== undefined) line += `,"name":${goJsonString(text)}`;
    else line += `,"name_raw":"${e.name.toString("base64")}"`;
  }
  if (e.size !== 0) line += `,"size":${e.size}`;
  line += `,"payload":${e.payload === null ? "null" : `"${e.payload.toString("base64")}"`}`;
  return `${line},"position":${e.position}}\n`;
}

function bad(line: number, why: string): HoodError {
  return new HoodError(`read tar-split metadata: line ${line}: ${why}`, "TAR_SPLIT_BAD_METADATA");
}

/** Parses one line; `lineNo` is for messages. */
export function decodeEntry(text: string, lineNo: number): SplitEntry {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw bad(lineNo, `not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== "object" || o === null) throw bad(lineNo, "not an object");
  const type = o.type;
  if (type !== FILE_TYPE && type !== SEGMENT_TYPE) throw bad(lineNo, `unknown type ${type}`);
  const size = o.size ?? 0;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw bad(lineNo, "size is not a non-negative integer");
  }
  const position = o.position ?? 0;
  if (typeof position !== "number" || !Number.isSafeInteger(position)) {
    throw bad(lineNo, "position is not an integer");
  }
  let payload: Buffer | null = null;
  if (o.payload !== null && o.payload !== undefined) {
    if (typeof o.payload !== "string") throw bad(lineNo, "payload is not a base64 string");
    payload = Buffer.from(o.payload, "base64");
  }
  const e: SplitEntry = { type, size, payload, position };
  if (typeof o.name_raw === "string" && o.name_raw.length > 0) {
    e.name = Buffer.from(o.name_raw, "base64");
  } else if (typeof o.name === "string") {
    e.name = Buffer.from(o.name, "utf8");
  }
  if (type === FILE_TYPE && size > 0 && (payload === null || payload.length !== 8)) {
    throw bad(lineNo, "file entry without an 8-byte CRC-64 payload");
  }
  return e;
}

/** Splits a stream of text chunks into lines and decodes them. */
export async function* decodeEntries(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<SplitEntry> {
  let rest = "";
  let lineNo = 0;
  const dec = new TextDecoder("utf-8");
  for await (const chunk of chunks) {
    const text = rest + dec.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      lineNo++;
      const line = text.slice(start, nl);
      start = nl + 1;
      if (line.trim() !== "") yield decodeEntry(line, lineNo);
    }
    rest = text.slice(start);
  }
  rest += dec.decode();
  // Go's unpacker ignores a last line that is not JSON; a real entry there still counts.
  if (rest.trim() !== "") {
    lineNo++;
    let e: SplitEntry | undefined;
    try {
      e = decodeEntry(rest, lineNo);
    } catch {
      e = undefined;
    }
    if (e) yield e;
  }
}
