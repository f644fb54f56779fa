/**
 * Streams raw ring-buffer records into a .kcap file. The recorder calls it from Node's main
 * thread with whatever the ring buffer gave it (any concatenation of whole records); the writer
 * cuts chunks at a raw size, compresses each, and writes it as one block with a single
 * positioned write. Everything is synchronous on purpose: a block is either completely in the
 * file or is the file's torn last block, so a SIGKILL at any instant loses at most the chunk
 * being built, and a failed write (ENOSPC, EIO) is cut back off so every earlier block stays good.
 */
import { closeSync, fchmodSync, fsyncSync, ftruncateSync, openSync, writevSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SUMMARY_FIXED } from '../record/bpf/config.generated.js';
import { EVENT_SCHEMA } from '../schema/events.generated.js';
import { recordCpu, recordLen, recordTsHi, recordTsLo } from '../schema/header.generated.js';
import { resolveSchema, SchemaError, type SchemaSpec } from '../schema/schema.js';
import { ChunkCompressor, recordLengthAt, recordsView } from './chunk.js';
import { CaptureError, asCaptureError } from './errors.js';
import {
  BlockType, CODEC_ZSTD, LIMITS, encodeChunkMeta, encodeFileHeader, encodeIndex, encodeTrailer, frameBlock,
  type BlockTypeId, type IndexEntry,
} from './format.js';
import { encodeHeader, encodeStats, encodeTable, type CaptureStats, type CpuStats } from './payloads.js';
import type { ClockAnchor } from './source.js';
import { TABLE_KINDS, type MachineInfo, type TableKind, type Tables } from './tables.js';

export interface WriterOptions {
  readonly machine: MachineInfo;
  readonly clock: ClockAnchor;
  readonly snaplen: number;
  /** Schema the records were laid out with; embedded in the file. Default: this build's. */
  readonly schema?: SchemaSpec;
  /** Who wrote the file. Default: kcap and its package version. */
  readonly writer?: { readonly name: string; readonly version: string };
  readonly command?: readonly string[];
  /** Raw bytes at which a chunk is cut (default 1 MiB); a larger record gets a chunk of its own. */
  readonly chunkSize?: number;
  /** zstd level (default 3). */
  readonly level?: number;
  /** Initial table snapshot, written before the first chunk. */
  readonly tables?: Partial<Tables>;
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;

/**
 * A summary of a batch of records that whoever produced the batch already walked (the recorder's
 * drain does, natively), so that appendSummarized need not walk it again. u32 words: [count,
 * first ts lo, first ts hi, last ts lo, last ts hi, records on CPU 0, on CPU 1, …]; the
 * SUMMARY_FIXED words before the per-CPU counts are generated from formats/bpf-abi.json, as
 * the addon's drain that writes them reads them.
 */
export function recordSummary(cpus: number): Uint32Array {
  return new Uint32Array(SUMMARY_FIXED + cpus);
}

/** Counts one record into a summary (for a producer that walks its records in JS). */
export function summarizeRecord(summary: Uint32Array, tsHi: number, tsLo: number, cpu: number): void {
  const none = summary[0] === 0;
  if (none || tsBefore(tsHi, tsLo, summary[2]!, summary[1]!)) {
    summary[1] = tsLo;
    summary[2] = tsHi;
  }
  if (none || tsBefore(summary[4]!, summary[3]!, tsHi, tsLo)) {
    summary[3] = tsLo;
    summary[4] = tsHi;
  }
  summary[0]!++;
  if (SUMMARY_FIXED + cpu < summary.length) summary[SUMMARY_FIXED + cpu]!++;
}

/** The count and time range a summary describes, as a chunk carries them. */
export function summaryRange(summary: Uint32Array): { count: number; firstTs: bigint; lastTs: bigint } {
  const ts = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);
  return { count: summary[0]!, firstTs: ts(summary[1]!, summary[2]!), lastTs: ts(summary[3]!, summary[4]!) };
}

/** Whether boot time a is before b, each as u32 halves: a double would round them after 104 days
 * of uptime, and a bigint per record costs more than the comparison. */
function tsBefore(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
  return aHi < bHi || (aHi === bHi && aLo < bLo);
}

const DEFAULT_LEVEL = 3;

function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export class CaptureWriter {
  private offset = 0;
  private failure: CaptureError | undefined;
  private closed = false;
  private readonly compressor: ChunkCompressor;
  private readonly chunkSize: number;
  private readonly index: IndexEntry[] = [];
  // The chunk being built.
  private buf: Buffer;
  private fill = 0;
  private count = 0;
  private firstHi = 0;
  private firstLo = 0;
  private lastHi = 0;
  private lastLo = 0;
  private pendingLost = 0;
  // Totals for STATS.
  private records = 0;
  private rawBytes = 0;
  private lost = 0;
  /** Indexed by CPU number (a u16), sparse. */
  private readonly perCpu: Array<{ records: number; lost: number } | undefined> = [];

  private constructor(private readonly fd: number, readonly path: string, opts: WriterOptions) {
    this.chunkSize = Math.min(Math.max(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, 1), LIMITS.maxChunkRaw);
    this.compressor = new ChunkCompressor(opts.level ?? DEFAULT_LEVEL);
    this.buf = Buffer.allocUnsafe(Math.min(this.chunkSize + (64 << 10), LIMITS.maxChunkRaw));
  }

  /** Creates (or truncates) `path` with mode 0600 and writes the header, schema and initial tables. */
  static create(path: string, opts: WriterOptions): CaptureWriter {
    const schema = opts.schema ?? EVENT_SCHEMA;
    try {
      resolveSchema(schema);
    } catch (err) {
      if (err instanceof SchemaError) throw new CaptureError('schema', `schema to embed is invalid: ${err.message}`);
      throw err;
    }
    let fd: number;
    try {
      fd = openSync(path, 'w', 0o600);
      fchmodSync(fd, 0o600);
    } catch (err) {
      throw asCaptureError(err, 'io', `cannot create ${path}`);
    }
    const w = new CaptureWriter(fd, path, opts);
    try {
      w.writeBytes([encodeFileHeader()]);
      w.writeBlock(BlockType.HEADER, [encodeHeader({
        writer: opts.writer ?? { name: 'kcap', version: packageVersion() },
        clock: opts.clock, machine: opts.machine, snaplen: opts.snaplen,
        command: opts.command ?? [], chunkSize: w.chunkSize,
      })]);
      w.writeBlock(BlockType.SCHEMA, [Buffer.from(JSON.stringify(schema), 'utf8')]);
      if (opts.tables) w.writeTables(opts.tables);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return w;
  }

  /** Bytes in the file so far. */
  get bytesWritten(): number {
    return this.offset;
  }

  /** Chunks in the file so far. */
  get chunksWritten(): number {
    return this.index.length;
  }

  /**
   * Writes one TABLE block per kind given (split into several if one would exceed the block
   * limit). Pending records are flushed first so the snapshot sits in time order between chunks.
   */
  writeTables(tables: Partial<Tables>): void {
    this.flush();
    for (const kind of TABLE_KINDS) {
      const rows = tables[kind];
      if (rows) this.writeTableRows(kind, rows);
    }
  }

  private writeTableRows(kind: TableKind, rows: readonly unknown[]): void {
    const payload = encodeTable(kind, rows);
    if (payload.length > LIMITS.maxPayload && rows.length > 1) {
      const half = Math.ceil(rows.length / 2);
      this.writeTableRows(kind, rows.slice(0, half));
      this.writeTableRows(kind, rows.slice(half));
      return;
    }
    this.writeBlock(BlockType.TABLE, [payload]);
  }

  /**
   * Adds whole raw records (any concatenation of them). The bytes are checked first: if they do
   * not end on a record boundary nothing is added and a CaptureError 'record' is thrown.
   */
  append(bytes: Uint8Array): void {
    this.checkUsable();
    const view = recordsView(bytes);
    for (let off = 0; off < bytes.length;) {
      const len = recordLengthAt(view, off);
      if (typeof len === 'string') throw new CaptureError('record', `append: ${len}`);
      if (len > LIMITS.maxChunkRaw) throw new CaptureError('record', `append: record of ${len} bytes exceeds ${LIMITS.maxChunkRaw}`);
      off += len;
    }
    for (let off = 0; off < bytes.length;) {
      // Take records while the chunk is below its size, then copy them in one go.
      let end = off;
      while (end < bytes.length && this.fill + (end - off) < this.chunkSize) {
        this.noteRecord(view, end);
        end += recordLen(view, end);
      }
      this.copyIn(bytes.subarray(off, end));
      off = end;
      if (this.fill >= this.chunkSize) this.flush();
    }
  }

  /**
   * Adds a batch of whole records that its producer has framed and summarized (recordSummary). The
   * whole batch joins the chunk being built, so callers keep batches within chunkRoom().
   */
  appendSummarized(bytes: Uint8Array, summary: Uint32Array): void {
    this.tail(bytes.length).set(bytes);
    this.commitSummarized(bytes.length, summary);
  }

  /**
   * The free space after the chunk being built, at least `bytes` long, for a producer to write
   * whole records into in place (the recorder drains the rings straight into it); then
   * commitSummarized says how many it wrote. The space is only valid until the next call.
   */
  tail(bytes: number): Uint8Array {
    this.checkUsable();
    this.reserve(bytes);
    return this.buf.subarray(this.fill, this.fill + bytes);
  }

  /** Adds the `length` bytes of whole records written into tail(), as `summary` describes them. */
  commitSummarized(length: number, summary: Uint32Array): void {
    this.checkUsable();
    const count = summary[0]!;
    if (count === 0) return;
    this.noteTs(summary[2]!, summary[1]!, summary[4]!, summary[3]!, count);
    for (let cpu = 0; cpu + SUMMARY_FIXED < summary.length; cpu++) {
      if (summary[SUMMARY_FIXED + cpu]) this.cpu(cpu).records += summary[SUMMARY_FIXED + cpu]!;
    }
    this.fill += length;
    if (this.fill >= this.chunkSize) this.flush();
  }

  /** Raw bytes the chunk being built can still take before it is cut (at least 1). */
  chunkRoom(): number {
    return Math.max(this.chunkSize - this.fill, 1);
  }

  private copyIn(span: Uint8Array): void {
    this.reserve(span.length);
    this.buf.set(span, this.fill);
    this.fill += span.length;
  }

  /** Grows the chunk buffer to take `bytes` more after what it holds. */
  private reserve(bytes: number): void {
    if (this.fill + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.fill + bytes, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.fill);
    this.buf = grown;
  }

  /** Updates the chunk's ts range (as u32 halves: no bigint per record) and the per-CPU count. */
  private noteRecord(view: DataView, off: number): void {
    const lo = recordTsLo(view, off);
    const hi = recordTsHi(view, off);
    this.noteTs(hi, lo, hi, lo, 1);
    this.cpu(recordCpu(view, off)).records++;
  }

  /** Widens the chunk's ts range to take `count` records whose ts lie in [first, last]. */
  private noteTs(firstHi: number, firstLo: number, lastHi: number, lastLo: number, count: number): void {
    if (this.count === 0 || tsBefore(firstHi, firstLo, this.firstHi, this.firstLo)) {
      this.firstHi = firstHi;
      this.firstLo = firstLo;
    }
    if (this.count === 0 || tsBefore(this.lastHi, this.lastLo, lastHi, lastLo)) {
      this.lastHi = lastHi;
      this.lastLo = lastLo;
    }
    this.count += count;
  }

  private cpu(cpu: number): { records: number; lost: number } {
    let c = this.perCpu[cpu];
    if (!c) this.perCpu[cpu] = c = { records: 0, lost: 0 };
    return c;
  }

  /** Records that the kernel dropped `n` events (on `cpu`, when known); the next chunk carries it. */
  noteLost(n: number, cpu?: number): void {
    this.checkUsable();
    this.pendingLost += n;
    this.lost += n;
    if (cpu !== undefined) this.cpu(cpu).lost += n;
  }

  /** Cuts the chunk being built, if any, and writes it. */
  flush(): void {
    this.checkUsable();
    if (this.count === 0) return;
    const raw = this.buf.subarray(0, this.fill);
    const compressed = this.compressor.compress(raw);
    const meta = { seq: this.index.length, count: this.count, rawLength: this.fill, codec: CODEC_ZSTD,
      firstTs: u64(this.firstHi, this.firstLo), lastTs: u64(this.lastHi, this.lastLo), lostBefore: this.pendingLost };
    const offset = this.offset;
    this.writeBlock(BlockType.EVENTS, [encodeChunkMeta(meta), compressed]);
    this.index.push({ offset, blockSize: this.offset - offset, ...meta });
    this.records += this.count;
    this.rawBytes += this.fill;
    this.fill = 0;
    this.count = 0;
    this.pendingLost = 0;
  }

  /** Flushes, then writes a STATS snapshot so a crashed recording still says what it counted. */
  writeStats(): void {
    this.flush();
    this.writeBlock(BlockType.STATS, [encodeStats(this.stats(false))]);
  }

  /** Counters of what is in the file (records still being built are not counted). */
  stats(final: boolean): CaptureStats {
    const perCpu: CpuStats[] = [];
    this.perCpu.forEach((c, cpu) => { if (c) perCpu.push({ cpu, ...c }); });
    return { records: this.records, rawBytes: this.rawBytes, lost: this.lost, perCpu, final };
  }

  /** Writes the last chunk, final STATS, the INDEX and the TRAILER, syncs and closes. */
  close(): void {
    if (this.closed) return;
    try {
      if (!this.failure) {
        this.flush();
        const statsOffset = this.offset;
        this.writeBlock(BlockType.STATS, [encodeStats(this.stats(true))]);
        const indexOffset = this.offset;
        this.writeBlock(BlockType.INDEX, [encodeIndex(this.index)]);
        this.writeBlock(BlockType.TRAILER, [encodeTrailer({ indexOffset, statsOffset, chunkCount: this.index.length })]);
        fsyncSync(this.fd);
      }
    } catch (err) {
      throw asCaptureError(err, 'io', `cannot finish ${this.path}`);
    } finally {
      this.closed = true;
      closeSync(this.fd);
    }
  }

  private checkUsable(): void {
    if (this.failure) throw new CaptureError('closed', `writer stopped after an earlier failure: ${this.failure.message}`);
    if (this.closed) throw new CaptureError('closed', 'writer is closed');
  }

  private writeBlock(type: BlockTypeId, parts: readonly Uint8Array[]): void {
    this.checkUsable();
    this.writeBytes(frameBlock(type, parts));
  }

  /** Writes buffers at the current offset; on failure cuts the file back to the last whole block. */
  private writeBytes(buffers: Buffer[]): void {
    const total = buffers.reduce((n, b) => n + b.length, 0);
    let done = 0;
    try {
      while (done < total) {
        done += writevSync(this.fd, remaining(buffers, done), this.offset + done);
      }
    } catch (err) {
      this.failure = asCaptureError(err, 'io', `write to ${this.path} failed at offset ${this.offset + done}`);
      try {
        ftruncateSync(this.fd, this.offset);
      } catch {
        // The reader treats a torn last block as truncation, so a failed cut loses nothing more.
      }
      throw this.failure;
    }
    this.offset += total;
  }
}

function u64(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The part of `buffers` after the first `skip` bytes (after a short write). */
function remaining(buffers: Buffer[], skip: number): Buffer[] {
  if (skip === 0) return buffers;
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
