/**
 * `hood tar-split disasm|asm|checksize`, with Go tar-split's flags:
 *   disasm [--output META] [--no-stdout] [NAME|-]     (reads the tar from NAME or stdin)
 *   asm --input META --path DIR [--output FILE|-] [--compress]
 *   checksize NAME...
 */
import { closeSync, openSync, statSync, unlinkSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { fileChunks } from "../archive/file-source.ts";
import { O } from "../archive/fsat.ts";
import { assemble } from "../archive/tar-split/assemble.ts";
import { disassemble } from "../archive/tar-split/disassemble.ts";
import { MetadataWriter, readMetadataFile } from "../archive/tar-split/metadata-file.ts";
import { HoodError, syscallError } from "../errors.ts";
import { err, out } from "./output.ts";

const USAGE = `usage: hood tar-split disasm [--output META] [--no-stdout] [NAME|-]
       hood tar-split asm --input META --path DIR [--output FILE|-] [--compress]
       hood tar-split checksize NAME...
`;

function writeAllFd(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw e;
    }
  }
}

/** Reads a file or stdin (fd 0) in large chunks. */
async function* readInput(name: string, tee?: (b: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const b of fileChunks(name === "-" ? { fd: 0, name: "stdin" } : name)) {
    tee?.(b);
    yield b;
  }
}

async function disasm(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      output: { type: "string", default: "tar-data.json.gz" },
      "no-stdout": { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new HoodError("tar-split disasm: give one tar (or -)", "USAGE");
  const input = positionals[0] ?? "-";
  const output = values.output!;
  if (output === "") throw new HoodError("tar-split disasm: --output must be set", "USAGE");
  const meta = new MetadataWriter(output);
  const tee = values["no-stdout"] ? undefined : (b: Buffer) => writeAllFd(1, b);
  try {
    await disassemble(readInput(input, tee), (t) => meta.write(t));
  } catch (e) {
    await meta.close().catch(() => {});
    throw e;
  }
  await meta.close();
  return 0;
}

async function asm(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      input: { type: "string", default: "tar-data.json.gz" },
      output: { type: "string", default: "-" },
      path: { type: "string", default: "" },
      compress: { type: "boolean", default: false },
    },
  });
  if (values.path === "") throw new HoodError("tar-split asm: --path must be set", "USAGE");
  let rootFd: number;
  try {
    rootFd = openSync(values.path!, O.RDONLY | O.DIRECTORY);
  } catch (e) {
    throw syscallError(`tar-split asm: open --path ${JSON.stringify(values.path)}`, e);
  }
  const toFile = values.output !== "-";
  let outFd = 1;
  if (toFile) {
    try {
      outFd = openSync(values.output!, "w", 0o644);
    } catch (e) {
      closeSync(rootFd);
      throw syscallError(`tar-split asm: create ${JSON.stringify(values.output)}`, e);
    }
  }
  let sink: (b: Buffer) => void | Promise<void> = (b) => writeAllFd(outFd, b);
  let finishGzip: (() => Promise<void>) | undefined;
  if (values.compress) {
    const gz = createGzip();
    gz.on("data", (c: Buffer) => writeAllFd(outFd, c));
    const ended = new Promise<void>((resolve, reject) => {
      gz.on("end", resolve);
      gz.on("error", reject);
    });
    sink = async (b) => {
      if (!gz.write(b)) await new Promise((r) => gz.once("drain", r));
    };
    finishGzip = async () => {
      gz.end();
      await ended;
    };
  }
  try {
    await assemble(readMetadataFile(values.input!), rootFd, sink);
    await finishGzip?.();
  } catch (e) {
    // A partial archive must not be mistaken for the real one.
    if (toFile) {
      closeSync(outFd);
      outFd = -1;
      try {
        unlinkSync(values.output!);
      } catch {}
    }
    throw e;
  } finally {
    closeSync(rootFd);
    if (toFile && outFd >= 0) closeSync(outFd);
  }
  return 0;
}

async function checksize(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({
    args: argv,
    options: { work: { type: "boolean", default: false } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    throw new HoodError("tar-split checksize: give tar archives to check ('-' for stdin)", "USAGE");
  }
  for (const name of positionals) {
    const size = name === "-" ? 0 : statSync(name).size;
    out(`inspecting ${JSON.stringify(name)} (size ${Math.floor(size / 1024)}k)\n`);
    let plain = 0;
    const gz = createGzip();
    let packed = 0;
    gz.on("data", (c: Buffer) => {
      packed += c.length;
    });
    const ended = new Promise((r) => gz.on("end", r));
    const { entries } = await disassemble(readInput(name), async (t) => {
      plain += Buffer.byteLength(t);
      if (!gz.write(t)) await new Promise((r) => gz.once("drain", r));
    });
    gz.end();
    await ended;
    out(` -- number of files: ${entries}\n`);
    out(` -- size of metadata uncompressed: ${Math.floor(plain / 1024)}k\n`);
    out(` -- size of gzip compressed metadata: ${Math.floor(packed / 1024)}k\n`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "disasm":
      case "d":
        return await disasm(rest);
      case "asm":
      case "a":
        return await asm(rest);
      case "checksize":
        return await checksize(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        out(USAGE);
        return cmd === undefined ? 1 : 0;
      default:
        err(`hood tar-split: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    err(`hood tar-split ${cmd}: ${msg}\n`);
    return e instanceof HoodError && e.code === "USAGE" ? 2 : 1;
  }
}
