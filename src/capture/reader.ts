/**
 * Reads a .kcap file as an EventSource. Opening reads only the small blocks at the front
 * (HEADER, SCHEMA, tables) and the chunk index behind the TRAILER; chunks are then read one at
 * a time, so memory is bounded by one chunk whatever the file size. A file without a usable
 * trailer (recorder killed, disk full) is scanned block by block instead: every complete chunk
 * is recovered and `problems` says what was lost and where.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { resolveSchema, SchemaError, type ResolvedSchema } from '../schema/schema.js';
import { CaptureFile, blockName, blockProblem, blockSize, problemOf, type BlockRef, type Problem } from './blocks.js';
import { ChunkDecompressor, countRecords, recordsInRange } from './chunk.js';
import { CaptureError, asCaptureError } from './errors.js';
import {
  BLOCK_HEADER_SIZE, BlockType, CHUNK_META_SIZE, FILE_HEADER_SIZE, LIMITS, TRAILER_BLOCK_SIZE, decodeChunkMeta, decodeIndex,
  decodeTrailer, parseFileHeader, type ChunkMeta, type FileHeader, type IndexEntry,
} from './format.js';
import {
  decodeHeader, decodeStats, decodeTable, isTableKind, normalizeRow, type CaptureHeader, type CaptureStats,
} from './payloads.js';
import type { ClockAnchor, EventSource, RawChunk } from './source.js';
import type { MachineInfo, Tables } from './tables.js';

export interface OpenOptions {
  /** What chunks() does with a damaged chunk: skip it and add a Problem (default), or throw. */
  readonly onDamage?: 'skip' | 'throw';
}

/** Inclusive bounds on record ts (boot ns); either may be left open. */
export interface TimeRange {
  readonly fromNs?: bigint;
  readonly toNs?: bigint;
}

const MAX_TS = 0xffff_ffff_ffff_ffffn;

/** What the front of the file holds, up to the first EVENTS block. */
interface Preamble {
  header: CaptureHeader;
  schema: ResolvedSchema;
  tables: Tables;
  otherTables: Map<string, number>;
  stats: CaptureStats | undefined;
  /** Where the walk stopped (first EVENTS block, or end) and that block's ordinal. */
  end: number;
  endOrdinal: number;
}

export class CaptureReader implements EventSource {
  private readonly decompressor = new ChunkDecompressor();
  private closed = false;
  private readonly problemList: Problem[];
  private readTo = 0;

  /** @internal Use openCapture. */
  constructor(
    private readonly file: CaptureFile,
    readonly format: FileHeader,
    private readonly preamble: Preamble,
    /** Chunks in file order, from the INDEX or from scanning. */
    readonly index: readonly IndexEntry[],
    /** True when the index came from the trailer; false when chunks were found by scanning. */
    readonly indexed: boolean,
    readonly stats: CaptureStats | undefined,
    problems: Problem[],
    private readonly onDamage: 'skip' | 'throw',
  ) {
    this.problemList = problems;
  }

  get path(): string { return this.file.path; }
  get size(): number { return this.file.size; }
  get header(): CaptureHeader { return this.preamble.header; }
  get schema(): ResolvedSchema { return this.preamble.schema; }
  get machine(): MachineInfo { return this.preamble.header.machine; }
  get clock(): ClockAnchor { return this.preamble.header.clock; }
  get snaplen(): number { return this.preamble.header.snaplen; }
  get tables(): Tables { return this.preamble.tables; }
  /** Table kinds this reader does not know (from a newer writer), with their row counts. */
  get otherTables(): ReadonlyMap<string, number> { return this.preamble.otherTables; }
  /** Damage found so far: at open, and by chunks() when it skipped a chunk. */
  get problems(): readonly Problem[] { return this.problemList; }
  /**
   * What opening (and reading so far) found: intact, or recoverable with `problems` saying what
   * was lost. Checks only what was read; verifyCapture checks every block.
   */
  get status(): 'intact' | 'recoverable' { return this.indexed && this.problemList.length === 0 ? 'intact' : 'recoverable'; }
  /** File offset chunks() has read up to (the end of its last chunk), for progress against `size`. */
  get position(): number { return this.readTo; }

  /**
   * Chunks in file order; with a range, only chunks overlapping it, trimmed to records inside it.
   * `shared`: each chunk's records in a SharedArrayBuffer (for worker threads).
   */
  async *chunks(range: TimeRange = {}, shared = false): AsyncGenerator<RawChunk> {
    const from = range.fromNs ?? 0n;
    const to = range.toNs ?? MAX_TS;
    for (const entry of this.index) {
      if (entry.lastTs < from || entry.firstTs > to) continue;
      this.readTo = entry.offset + entry.blockSize;
      let chunk: RawChunk;
      try {
        chunk = await this.readChunk(entry, shared);
      } catch (err) {
        const e = asCaptureError(err, 'corrupt', `chunk ${entry.seq}`, { offset: entry.offset });
        if (this.onDamage === 'throw' || e.code === 'closed' || e.code === 'io') throw e;
        this.problemList.push(problemOf(e, entry.blockSize, entry.offset));
        continue;
      }
      yield from <= chunk.firstTs && to >= chunk.lastTs ? chunk : trim(chunk, from, to);
    }
  }

  /** Reads, checks and decompresses one indexed chunk. */
  async readChunk(entry: IndexEntry, shared = false): Promise<RawChunk> {
    if (this.closed) throw new CaptureError('closed', 'reader is closed');
    const where = { offset: entry.offset };
    try {
      const { ref, payload } = await this.file.readBlock(entry.offset);
      if (ref.type !== BlockType.EVENTS) throw new CaptureError('corrupt', `index points at a ${blockName(ref.type)} block`, where);
      const meta = decodeChunkMeta(payload);
      if (meta.seq !== entry.seq || meta.count !== entry.count) throw new CaptureError('corrupt', 'chunk meta disagrees with the index', where);
      const records = this.decompressor.decompress(payload.subarray(CHUNK_META_SIZE), meta.rawLength, shared);
      if (countRecords(records) !== meta.count) throw new CaptureError('corrupt', `chunk holds a different number of records than its meta says (${meta.count})`, where);
      return { seq: meta.seq, records, count: meta.count, firstTs: meta.firstTs, lastTs: meta.lastTs, lostBefore: meta.lostBefore };
    } catch (err) {
      const e = asCaptureError(err, 'corrupt', 'chunk unreadable', where);
      throw new CaptureError(e.code, `chunk ${entry.seq}: ${e.detail}`, { offset: e.offset ?? entry.offset, cause: err,
        ...(e.block !== undefined ? { block: e.block } : {}) });
    }
  }

  /** Smallest and largest record ts over all chunks, or undefined for a capture without events. */
  timeRange(): { firstTs: bigint; lastTs: bigint } | undefined {
    if (this.index.length === 0) return undefined;
    let firstTs = MAX_TS;
    let lastTs = 0n;
    for (const e of this.index) {
      if (e.firstTs < firstTs) firstTs = e.firstTs;
      if (e.lastTs > lastTs) lastTs = e.lastTs;
    }
    return { firstTs, lastTs };
  }

  /** @internal The open file, for verifyCapture's full walk. */
  get captureFile(): CaptureFile { return this.file; }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }
}

function trim(chunk: RawChunk, from: bigint, to: bigint): RawChunk {
  const { records, count } = recordsInRange(chunk.records, from, to);
  return { ...chunk, records, count };
}

/** Opens a capture. Throws CaptureError (only) when the file is not a readable capture. */
export async function openCapture(path: string, opts: OpenOptions = {}): Promise<CaptureReader> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw asCaptureError(err, 'io', 'cannot open');
  }
  try {
    const file = new CaptureFile(fh, path, (await fh.stat()).size);
    const format = parseFileHeader(await file.read(0, FILE_HEADER_SIZE));
    const problems: Problem[] = [];
    const preamble = await readPreamble(file, problems);
    const fromTrailer = await readTrailerIndex(file, problems);
    const scanned = fromTrailer ? undefined : await scanChunks(file, preamble, problems);
    const index = fromTrailer?.index ?? scanned!.index;
    const stats = fromTrailer?.stats ?? scanned?.stats ?? preamble.stats;
    return new CaptureReader(file, format, preamble, index, fromTrailer !== undefined, stats, problems, opts.onDamage ?? 'skip');
  } catch (err) {
    await fh.close();
    throw asCaptureError(err, 'corrupt', 'unreadable');
  }
}

/** Reads HEADER, SCHEMA, TABLE and STATS blocks up to the first EVENTS block. */
async function readPreamble(file: CaptureFile, problems: Problem[]): Promise<Preamble> {
  let header: CaptureHeader | undefined;
  let schema: ResolvedSchema | undefined;
  let stats: CaptureStats | undefined;
  const tables: Tables = { threads: [], fds: [], containers: [], users: [], groups: [], interfaces: [] };
  const otherTables = new Map<string, number>();
  let tableBytes = 0;
  let end = file.size;
  let endOrdinal = 0;
  const walkProblems: Problem[] = [];
  for await (const ref of file.walk(FILE_HEADER_SIZE, 0, (p) => walkProblems.push(p))) {
    if (ref.type === BlockType.EVENTS || ref.type === BlockType.INDEX || ref.type === BlockType.TRAILER) {
      end = ref.offset;
      endOrdinal = ref.ordinal;
      break;
    }
    endOrdinal = ref.ordinal + 1;
    const essential = ref.type === BlockType.HEADER || ref.type === BlockType.SCHEMA;
    try {
      const { payload } = await file.readBlock(ref.offset, ref.ordinal);
      if (ref.type === BlockType.HEADER) header = decodeHeader(payload);
      else if (ref.type === BlockType.SCHEMA) schema = decodeSchema(payload);
      else if (ref.type === BlockType.STATS) stats = decodeStats(payload);
      else if (ref.type === BlockType.TABLE) {
        tableBytes += payload.length;
        if (tableBytes > LIMITS.maxTableBytes) throw new CaptureError('limit', `tables exceed ${LIMITS.maxTableBytes} bytes`);
        addTable(tables, otherTables, payload, ref, problems);
      }
    } catch (err) {
      const p = blockProblem(err, ref);
      if (essential) throw new CaptureError(p.code, p.message, { block: ref.ordinal, offset: ref.offset, cause: err });
      problems.push(p);
    }
  }
  problems.push(...walkProblems);
  if (!header || !schema) {
    const first = walkProblems[0];
    const missing = !header ? 'HEADER' : 'SCHEMA';
    throw new CaptureError(first?.code ?? 'truncated', `no readable ${missing} block${first ? `: ${first.message}` : ''}`,
      { offset: first?.offset ?? file.size, ...(first?.block !== undefined ? { block: first.block } : {}) });
  }
  return { header, schema, tables, otherTables, stats, end, endOrdinal };
}

/**
 * Resolved schemas by their JSON text: captures written by the same kcap embed the same schema,
 * and resolving one costs milliseconds, which adds up when many captures (or cuts) are opened.
 */
const schemaCache = new Map<string, ResolvedSchema>();
const SCHEMA_CACHE_SIZE = 8;

function decodeSchema(payload: Buffer): ResolvedSchema {
  if (payload.length > LIMITS.maxSchema) throw new CaptureError('limit', `SCHEMA of ${payload.length} bytes exceeds ${LIMITS.maxSchema}`);
  const text = payload.toString('utf8');
  const cached = schemaCache.get(text);
  if (cached) return cached;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw asCaptureError(err, 'schema', 'SCHEMA is not JSON');
  }
  let schema: ResolvedSchema;
  try {
    schema = resolveSchema(json);
  } catch (err) {
    if (err instanceof SchemaError) throw new CaptureError('schema', `embedded schema: ${err.message}`);
    throw err;
  }
  if (schemaCache.size >= SCHEMA_CACHE_SIZE) schemaCache.delete(schemaCache.keys().next().value!);
  schemaCache.set(text, schema);
  return schema;
}

function addTable(tables: Tables, other: Map<string, number>, payload: Buffer, ref: BlockRef, problems: Problem[]): void {
  const { kind, rows } = decodeTable(payload);
  if (!isTableKind(kind)) {
    other.set(kind, (other.get(kind) ?? 0) + rows.length);
    return;
  }
  const target = tables[kind] as unknown[];
  let dropped = 0;
  let firstReason = '';
  for (const row of rows) {
    const r = normalizeRow(kind, row);
    if (typeof r === 'string') {
      if (dropped++ === 0) firstReason = r;
    } else {
      target.push(r);
    }
  }
  if (dropped > 0) {
    problems.push({ code: 'corrupt', message: `TABLE ${kind}: dropped ${dropped} of ${rows.length} rows (first: ${firstReason})`,
      block: ref.ordinal, offset: ref.offset, lostBytes: 0 });
  }
}

/** The chunk index behind the trailer, or undefined (with a Problem saying why) when unusable. */
async function readTrailerIndex(file: CaptureFile, problems: Problem[]): Promise<{ index: IndexEntry[]; stats: CaptureStats | undefined } | undefined> {
  try {
    if (file.size < FILE_HEADER_SIZE + TRAILER_BLOCK_SIZE) throw new CaptureError('truncated', 'file too short for a trailer');
    const { ref, payload } = await file.readBlock(file.size - TRAILER_BLOCK_SIZE);
    if (ref.type !== BlockType.TRAILER) throw new CaptureError('corrupt', `last block is ${blockName(ref.type)}, not TRAILER`);
    const trailer = decodeTrailer(payload);
    const idx = await file.readBlock(trailer.indexOffset);
    if (idx.ref.type !== BlockType.INDEX) throw new CaptureError('corrupt', 'trailer does not point at an INDEX block');
    const index = decodeIndex(idx.payload, file.size);
    if (index.length !== trailer.chunkCount) throw new CaptureError('corrupt', 'INDEX and TRAILER disagree on the chunk count');
    return { index, stats: await readFinalStats(file, trailer.statsOffset, problems) };
  } catch (err) {
    const e = asCaptureError(err, 'corrupt', 'trailer unreadable');
    problems.push({ code: e.code === 'checksum' ? 'checksum' : 'truncated',
      message: `no usable trailer (${e.detail}): the recording did not finish cleanly; chunks found by scanning`,
      offset: e.offset ?? file.size, lostBytes: 0 });
    return undefined;
  }
}

async function readFinalStats(file: CaptureFile, offset: number, problems: Problem[]): Promise<CaptureStats | undefined> {
  try {
    const { ref, payload } = await file.readBlock(offset);
    if (ref.type !== BlockType.STATS) throw new CaptureError('corrupt', 'trailer does not point at a STATS block', { offset });
    return decodeStats(payload);
  } catch (err) {
    problems.push(problemOf(asCaptureError(err, 'corrupt', 'final STATS unreadable', { offset }), 0, offset));
    return undefined;
  }
}

/** Without an index: walks every block after the preamble, reading chunk metas and STATS. */
async function scanChunks(file: CaptureFile, preamble: Preamble, problems: Problem[]): Promise<{ index: IndexEntry[]; stats: CaptureStats | undefined }> {
  const index: IndexEntry[] = [];
  let stats: CaptureStats | undefined;
  for await (const ref of file.walk(preamble.end, preamble.endOrdinal, (p) => problems.push(p))) {
    try {
      if (ref.type === BlockType.EVENTS) {
        const meta = decodeChunkMeta(await file.read(ref.offset + BLOCK_HEADER_SIZE, CHUNK_META_SIZE));
        index.push(indexEntry(ref, meta));
      } else if (ref.type === BlockType.STATS) {
        stats = decodeStats((await file.readBlock(ref.offset, ref.ordinal)).payload);
      }
    } catch (err) {
      problems.push(blockProblem(err, ref));
    }
  }
  problems.push(...seqGaps(index));
  return { index, stats };
}

export function indexEntry(ref: BlockRef, meta: ChunkMeta): IndexEntry {
  return { offset: ref.offset, blockSize: blockSize(ref), seq: meta.seq, count: meta.count, rawLength: meta.rawLength,
    firstTs: meta.firstTs, lastTs: meta.lastTs };
}

/** Problems for chunk sequence numbers missing between those found (chunks lost to damage). */
export function seqGaps(index: readonly { seq: number; offset: number }[]): Problem[] {
  const out: Problem[] = [];
  let expect = 0;
  for (const e of index) {
    if (e.seq > expect) {
      out.push({ code: 'corrupt', message: `chunk${e.seq - expect > 1 ? 's' : ''} ${expect}${e.seq - expect > 1 ? `..${e.seq - 1}` : ''} missing`,
        offset: e.offset, lostBytes: 0 });
    }
    expect = Math.max(expect, e.seq + 1);
  }
  return out;
}
