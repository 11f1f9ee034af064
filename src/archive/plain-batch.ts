/**
 * Runs of plain files in one go (native/addon/tarbatch.c). Per small file, the JS thread spent
 * ~20 us parsing its header, recording its tar-split lines and queueing it; for a run of plain
 * entries (regular files without PAX or GNU extension headers, names Go's JSON writes as they
 * are, header and data inside the current chunk, data small enough for one write-queue record)
 * `scan` parses the headers in one call and gives back each entry's name, mode and owner; the
 * caller decides every entry (extract.ts: the name is safe, its parent is a directory this
 * extraction made, how the file is made) and then `commit` writes the tar-split lines, the
 * CRC-64s and one queue record per file for the entries it accepted, in one more call (the
 * files' data is written from the chunk, which the queue holds until they have run). Nothing
 * is created for an entry the caller has not seen. Anything else (and every entry the caller
 * refuses) goes the ordinary way through TarReader.next().
 */
import { optionalNative } from "../native/addon.ts";
import type { WriteQueueHandle } from "./fsat.ts";
import type { TarReader } from "./tar-reader.ts";
import type { SplitRecorder } from "./tar-split/recorder.ts";
import type { WriteQueue } from "./write-queue.ts";

type NativeScan = (
  chunk: Uint8Array,
  pos: number,
  pad: number,
  maxCount: number,
  maxData: number,
  meta: Float64Array,
  names: Uint8Array,
) => number;

type NativeCommit = (
  queue: WriteQueueHandle,
  chunk: Uint8Array,
  pos: number,
  pad: number,
  count: number,
  maxData: number,
  decisions: Int32Array,
  openFlags: number,
  out: Uint8Array | null,
  state: Float64Array,
) => void;

/** Entries per batch at most (a 256 KiB chunk holds ~20 files of 1-15 KiB). */
export const BATCH_MAX = 128;
/** tarbatch.c's strides: meta per entry (Float64), decisions per entry (Int32). */
const M = { mode: 0, uid: 1, gid: 2, size: 3, nameOff: 4, nameLen: 5, stride: 6 } as const;
const D = 6;
/** A ustar name: prefix, slash, name. */
const NAME_BYTES = 256;
/** The most one entry's two tar-split lines take (tarbatch.c's LINES_MAX, rounded up). */
const LINES_MAX = 2048;

export class PlainBatch {
  private readonly meta = new Float64Array(BATCH_MAX * M.stride);
  private readonly names = Buffer.alloc(BATCH_MAX * NAME_BYTES);
  private readonly decisions = new Int32Array(BATCH_MAX * D);
  private readonly state = new Float64Array(4);
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private pad = 0;
  private count = 0;

  private constructor(
    private readonly scanFn: NativeScan,
    private readonly commitFn: NativeCommit,
    /** The largest data section taken (the queue's record limit). */
    private readonly maxData: number,
  ) {}

  /** A batcher, or undefined without the addon (or an older build of it). */
  static create(maxData: number): PlainBatch | undefined {
    const scan = optionalNative<NativeScan>("tarBatchScan");
    const commit = optionalNative<NativeCommit>("tarBatchCommit");
    return scan && commit ? new PlainBatch(scan, commit, maxData) : undefined;
  }

  /**
   * Parses the plain entries at the reader's position (none when the reader is not between
   * entries in a plain state): returns how many; look at them with name(), mode(), uid(),
   * gid(), size(), and accept a prefix of them with decide() and commit().
   */
  async scan(reader: TarReader): Promise<number> {
    this.count = 0;
    if (!(await reader.batchReady())) return 0;
    const src = reader.source;
    this.chunk = src.chunkNow;
    this.pos = src.posNow;
    this.pad = reader.padNow;
    this.count = this.scanFn(
      this.chunk,
      this.pos,
      this.pad,
      BATCH_MAX,
      this.maxData,
      this.meta,
      this.names,
    );
    return this.count;
  }

  /** Entry i's member name, as bytes taken one to one (latin1), as extract.ts keys paths. */
  name(i: number): string {
    const off = this.meta[i * M.stride + M.nameOff]!;
    return this.names.toString("latin1", off, off + this.meta[i * M.stride + M.nameLen]!);
  }

  /** Entry i's member name as bytes (a view of the batch's buffer, valid until the next scan). */
  nameBytes(i: number): Buffer {
    const off = this.meta[i * M.stride + M.nameOff]!;
    return this.names.subarray(off, off + this.meta[i * M.stride + M.nameLen]!);
  }

  mode(i: number): number {
    return this.meta[i * M.stride + M.mode]!;
  }

  uid(i: number): number {
    return this.meta[i * M.stride + M.uid]!;
  }

  gid(i: number): number {
    return this.meta[i * M.stride + M.gid]!;
  }

  size(i: number): number {
    return this.meta[i * M.stride + M.size]!;
  }

  /**
   * How entry i is made: openat(`dirFd`, the name from byte `baseOff` on, the open flags given
   * to commit(), `createMode`), on this thread when `here` (else on the queue's), then the
   * write queue's FINISH `flags` steps; `pathOff` is where the path named in messages starts
   * in the name.
   */
  decide(
    i: number,
    dirFd: number,
    pathOff: number,
    baseOff: number,
    createMode: number,
    flags: number,
    here: boolean,
  ): void {
    const d = this.decisions;
    const o = i * D;
    d[o] = dirFd;
    d[o + 1] = pathOff;
    d[o + 2] = baseOff;
    d[o + 3] = createMode;
    d[o + 4] = flags;
    d[o + 5] = here ? 1 : 0;
  }

  /**
   * Takes the first `k` scanned entries (each decided): their tar-split lines go to `rec`,
   * their files to `wq`, and the reader moves past them. Throws the queue's first error, or
   * a create's here ("extract: create PATH: ..." as the queue says it).
   */
  commit(
    reader: TarReader,
    k: number,
    wq: WriteQueue,
    openFlags: number,
    rec: SplitRecorder | undefined,
  ): void {
    if (k <= 0 || k > this.count) throw new RangeError(`commit: ${k} of ${this.count} entries`);
    const st = this.state;
    let out: Buffer | null = null;
    if (rec) {
      const b = rec.batchOut(k * LINES_MAX);
      out = b.out;
      st[0] = b.used;
      st[1] = b.position;
    } else {
      st[0] = 0;
      st[1] = 0;
    }
    st[2] = -1;
    wq.batch(() =>
      this.commitFn(
        wq.handle,
        this.chunk,
        this.pos,
        this.pad,
        k,
        this.maxData,
        this.decisions,
        openFlags,
        out,
        st,
      ),
    );
    this.count = 0;
    if (st[2]! < 0) throw new Error("commit: the batch did not finish");
    rec?.batchDone(st[0]!, st[1]!);
    reader.batchTaken(st[2]!, st[3]!);
  }
}
