/**
 * `kcap verify` as a library call: reads every block of a capture, checks both checksums and
 * the content of each (chunks are decompressed and their records' framing, count and time
 * bounds compared with the chunk meta; the INDEX is compared with the chunks actually found),
 * and classifies the file as intact, recoverable (readable, with losses listed) or unreadable.
 */
import { blockName, blockProblem, problemOf, type BlockRef, type Problem } from './blocks.js';
import { recordTs } from '../schema/header.generated.js';
import { ChunkDecompressor, recordLengthAt, recordsView } from './chunk.js';
import { CaptureError, asCaptureError } from './errors.js';
import { BlockType, CHUNK_META_SIZE, FILE_HEADER_SIZE, decodeChunkMeta, decodeIndex, decodeTrailer, type IndexEntry } from './format.js';
import { decodeHeader, decodeStats, decodeTable } from './payloads.js';
import { indexEntry, openCapture, seqGaps, type CaptureReader } from './reader.js';

export type CaptureStatus = 'intact' | 'recoverable' | 'unreadable';

export interface VerifyReport {
  readonly path: string;
  readonly status: CaptureStatus;
  readonly size: number;
  /** Blocks found, by type name. */
  readonly blocks: Readonly<Record<string, number>>;
  /** Chunks that passed every check, and their records. */
  readonly chunks: number;
  readonly records: number;
  /** File bytes that could not be used. */
  readonly lostBytes: number;
  readonly problems: readonly Problem[];
}

/** Verifies the capture at `path`. Never throws: an unopenable file is reported as unreadable. */
export async function verifyCapture(path: string): Promise<VerifyReport> {
  let reader: CaptureReader;
  try {
    reader = await openCapture(path);
  } catch (err) {
    const e = asCaptureError(err, 'corrupt', 'unreadable');
    return { path, status: 'unreadable', size: 0, blocks: {}, chunks: 0, records: 0, lostBytes: 0, problems: [problemOf(e, 0, 0)] };
  }
  try {
    return await walkAll(reader);
  } finally {
    await reader.close();
  }
}

async function walkAll(reader: CaptureReader): Promise<VerifyReport> {
  const file = reader.captureFile;
  const problems: Problem[] = [];
  const blocks: Record<string, number> = {};
  const found: IndexEntry[] = [];
  const decompressor = new ChunkDecompressor();
  let records = 0;
  let damagedChunks = 0;
  let last: BlockRef | undefined;
  for await (const ref of file.walk(FILE_HEADER_SIZE, 0, (p) => problems.push(p))) {
    const name = blockName(ref.type);
    blocks[name] = (blocks[name] ?? 0) + 1;
    last = ref;
    try {
      const { payload } = await file.readBlock(ref.offset, ref.ordinal);
      if (ref.type === BlockType.EVENTS) {
        const entry = checkChunk(payload, ref, decompressor);
        found.push(entry);
        records += entry.count;
      } else {
        checkOther(payload, ref, damagedChunks > 0 ? undefined : found, file.size);
      }
    } catch (err) {
      if (ref.type === BlockType.EVENTS) damagedChunks++;
      problems.push(blockProblem(err, ref));
    }
  }
  if (last?.type !== BlockType.TRAILER) {
    problems.push({ code: 'truncated', message: 'no TRAILER at the end: the recording did not finish cleanly', offset: file.size, lostBytes: 0 });
  }
  problems.push(...seqGaps(found));
  const lostBytes = problems.reduce((n, p) => n + p.lostBytes, 0);
  return {
    path: file.path, status: problems.length === 0 ? 'intact' : 'recoverable', size: file.size, blocks,
    chunks: found.length, records, lostBytes, problems,
  };
}

/** Decompresses a chunk and checks its records against its meta. */
function checkChunk(payload: Buffer, ref: BlockRef, decompressor: ChunkDecompressor): IndexEntry {
  const meta = decodeChunkMeta(payload);
  const raw = decompressor.decompress(payload.subarray(CHUNK_META_SIZE), meta.rawLength);
  const view = recordsView(raw);
  let count = 0;
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (let off = 0; off < raw.length; count++) {
    const len = recordLengthAt(view, off);
    if (typeof len === 'string') throw new CaptureError('corrupt', `record ${count}: ${len}`);
    const ts = recordTs(view, off);
    if (min === undefined || ts < min) min = ts;
    if (max === undefined || ts > max) max = ts;
    off += len;
  }
  if (count !== meta.count) throw new CaptureError('corrupt', `holds ${count} records, meta says ${meta.count}`);
  // The meta range is exact (the spec says smallest and largest), so a reader may trust it for seeking.
  if (min !== meta.firstTs || max !== meta.lastTs) {
    throw new CaptureError('corrupt', `records span ts ${min}..${max}, meta says ${meta.firstTs}..${meta.lastTs}`);
  }
  return indexEntry(ref, meta);
}

/**
 * Decodes a non-event block. The INDEX must list exactly the chunks found before it (`found`
 * is undefined once a chunk was damaged, which is then reported already).
 */
function checkOther(payload: Buffer, ref: BlockRef, found: readonly IndexEntry[] | undefined, size: number): void {
  switch (ref.type) {
    case BlockType.HEADER: decodeHeader(payload); break;
    case BlockType.TABLE: decodeTable(payload); break;
    case BlockType.STATS: decodeStats(payload); break;
    case BlockType.SCHEMA: break; // openCapture already resolved it
    case BlockType.TRAILER: decodeTrailer(payload); break;
    case BlockType.INDEX: {
      const index = decodeIndex(payload, size);
      if (!found) break;
      const same = index.length === found.length && index.every((e, i) => {
        const f = found[i]!;
        return e.offset === f.offset && e.seq === f.seq && e.count === f.count && e.blockSize === f.blockSize
          && e.firstTs === f.firstTs && e.lastTs === f.lastTs && e.rawLength === f.rawLength;
      });
      if (!same) throw new CaptureError('corrupt', `lists ${index.length} chunks that differ from the ${found.length} found`);
      break;
    }
    default: break; // a block type from a newer minor version: skipped by design
  }
}
