/**
 * PAX extended header records: `"%d %s=%s\n"`, where the length counts the whole record.
 * Values are kept as bytes (a path need not be UTF-8: GNU tar writes hdrcharset=BINARY).
 */
import { HoodError } from "../errors.ts";
import type { TarTime } from "./tar-header.ts";

function bad(why: string): HoodError {
  return new HoodError(`read tar pax header: ${why}`, "TAR_BAD_HEADER");
}

/** Parses the records of one extended header, in order (a key may repeat: GNU sparse 0.0). */
export function parsePaxRecords(data: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let pos = 0;
  while (pos < data.length) {
    // Trailing NULs pad some writers' headers.
    if (data[pos] === 0) {
      for (let i = pos; i < data.length; i++) if (data[i] !== 0) throw bad("junk after records");
      break;
    }
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) throw bad("record without a length");
    const lenText = data.toString("latin1", pos, sp);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw bad(`bad record length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (len < 5 || pos + len > data.length) throw bad(`record length ${len} out of range`);
    const end = pos + len;
    if (data[end - 1] !== 0x0a) throw bad("record not terminated by a newline");
    const eq = data.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw bad("record without '='");
    const key = data.toString("utf8", sp + 1, eq);
    if (key.length === 0) throw bad("empty key");
    out.push([key, Buffer.from(data.subarray(eq + 1, end - 1))]);
    pos = end;
  }
  return out;
}

/** Encodes one record with its self-inclusive length. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}

/** "1700000000.123456789" -> {sec, nsec}; negative times keep a positive nsec. */
export function parsePaxTime(text: string, key: string): TarTime {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(text);
  if (!m) throw bad(`${key} is not a time: ${JSON.stringify(text)}`);
  const sec = Number(m[2]);
  const frac = (m[3] ?? "").slice(0, 9).padEnd(9, "0");
  const nsec = Number(frac);
  if (m[1] === "-") {
    return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1_000_000_000 - nsec };
  }
  return { sec, nsec };
}

export function formatPaxTime(t: TarTime): string {
  if (t.nsec === 0) return String(t.sec);
  let sec = t.sec;
  let nsec = t.nsec;
  let sign = "";
  if (sec < 0) {
    sign = "-";
    sec = -sec - 1;
    nsec = 1_000_000_000 - nsec;
  }
  return `${sign}${sec}.${String(nsec).padStart(9, "0").replace(/0+$/, "")}`;
}

/** A non-negative decimal integer record, as PAX requires for size, uid, gid. */
export function parsePaxInt(value: Buffer, key: string): number {
  const text = value.toString("latin1");
  if (!/^[0-9]{1,16}$/.test(text)) throw bad(`${key} is not a number: ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n > Number.MAX_SAFE_INTEGER) throw bad(`${key} is too large`);
  return n;
}
