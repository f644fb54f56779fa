/**
 * The byte layout of a .kcap file (formats/kcap.md is the prose form of this module): the file
 * header, block framing with its two checksums, and the fixed binary payloads (chunk meta, index,
 * trailer). Pure functions over bytes, shared by the writer, the reader and the scanner, so there
 * is exactly one place that knows where each field sits.
 *
 *   file    = file header: magic (8) | major u16 | minor u16 | CRC32C(previous 12) u32
 *             | block* | TRAILER block
 *   block   = magic "KBLK" u32 | type u16 | flags u16 | payload length u32 | CRC32C(previous 12) u32
 *             | payload | CRC32C(payload) u32
 */
import { crc32c } from '@node-rs/crc32';
import { RECORD_HEADER_SIZE } from '../schema/header.generated.js';
import { CaptureError, type CaptureErrorCode } from './errors.js';

/** "KCAP\r\n\x1a\n": the CR/LF/^Z bytes expose text-mode transfer damage, as in PNG. */
export const FILE_MAGIC: Buffer = Buffer.from('KCAP\r\n\x1a\n', 'latin1');
export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 0;
export const FILE_HEADER_SIZE = 16;

/** "KBLK" read as a little-endian u32. */
export const BLOCK_MAGIC = 0x4b4c424b;
export const BLOCK_HEADER_SIZE = 16;
export const BLOCK_OVERHEAD = BLOCK_HEADER_SIZE + 4;

export const BlockType = {
  HEADER: 1,
  SCHEMA: 2,
  TABLE: 3,
  EVENTS: 4,
  STATS: 5,
  INDEX: 6,
  TRAILER: 7,
} as const;
export type BlockTypeId = (typeof BlockType)[keyof typeof BlockType];

export const BLOCK_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(BlockType).map(([name, id]) => [id, name]),
);

/** Hard limits that keep a hostile file from making the reader allocate without bound. */
export const LIMITS = {
  /** Largest block payload accepted (and written). */
  maxPayload: 64 << 20,
  /** Largest declared uncompressed size of one event chunk. */
  maxChunkRaw: 64 << 20,
  /** Largest embedded schema. */
  maxSchema: 4 << 20,
  /** Total table payload bytes a reader keeps in memory. */
  maxTableBytes: 256 << 20,
} as const;

export interface FileHeader {
  readonly major: number;
  readonly minor: number;
}

export function encodeFileHeader(): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  FILE_MAGIC.copy(b, 0);
  b.writeUInt16LE(FORMAT_MAJOR, 8);
  b.writeUInt16LE(FORMAT_MINOR, 10);
  b.writeUInt32LE(crc32c(b.subarray(0, 12)), 12);
  return b;
}

/** Validates the first 16 bytes; refuses files from a newer major version. */
export function parseFileHeader(b: Buffer): FileHeader {
  if (b.length < 8 || !b.subarray(0, 8).equals(FILE_MAGIC)) {
    throw new CaptureError('not-kcap', 'not a kcap capture (bad magic)', { offset: 0 });
  }
  if (b.length < FILE_HEADER_SIZE) throw new CaptureError('truncated', 'file header truncated', { offset: 0 });
  if (crc32c(b.subarray(0, 12)) !== b.readUInt32LE(12)) throw new CaptureError('checksum', 'file header checksum mismatch', { offset: 0 });
  const major = b.readUInt16LE(8);
  const minor = b.readUInt16LE(10);
  if (major > FORMAT_MAJOR || major === 0) {
    throw new CaptureError('version',
      `capture format version ${major}.${minor} is not supported by this kcap (reads up to ${FORMAT_MAJOR}.x); upgrade kcap`,
      { offset: 8 });
  }
  return { major, minor };
}

/** Frames a payload (given as parts to avoid a copy) into the buffers of one block. */
export function frameBlock(type: BlockTypeId, parts: readonly Uint8Array[]): Buffer[] {
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (length > LIMITS.maxPayload) {
    throw new CaptureError('limit', `${BLOCK_TYPE_NAMES[type]} payload of ${length} bytes exceeds ${LIMITS.maxPayload}`);
  }
  const header = Buffer.alloc(BLOCK_HEADER_SIZE);
  header.writeUInt32LE(BLOCK_MAGIC, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(0, 6);
  header.writeUInt32LE(length, 8);
  header.writeUInt32LE(crc32c(header.subarray(0, 12)), 12);
  let crc = 0;
  for (const p of parts) crc = crc32c(p, crc);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc, 0);
  return [header, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)), tail];
}

export interface BlockHeader {
  readonly type: number;
  readonly flags: number;
  readonly length: number;
}

export interface HeaderProblem {
  readonly code: CaptureErrorCode;
  readonly message: string;
}

/** Why 16 bytes at `at` are not a trustworthy block header; null when they are. */
export function blockHeaderProblem(b: Buffer, at = 0): HeaderProblem | null {
  if (b.length - at < BLOCK_HEADER_SIZE) return { code: 'truncated', message: 'block header truncated' };
  if (b.readUInt32LE(at) !== BLOCK_MAGIC) return { code: 'corrupt', message: 'bad block magic' };
  if (crc32c(b.subarray(at, at + 12)) !== b.readUInt32LE(at + 12)) return { code: 'checksum', message: 'block header checksum mismatch' };
  const length = b.readUInt32LE(at + 8);
  if (length > LIMITS.maxPayload) return { code: 'limit', message: `block payload length ${length} exceeds ${LIMITS.maxPayload}` };
  return null;
}

/** Reads a block header that blockHeaderProblem accepted. */
export function readBlockHeader(b: Buffer, at = 0): BlockHeader {
  return { type: b.readUInt16LE(at + 4), flags: b.readUInt16LE(at + 6), length: b.readUInt32LE(at + 8) };
}

/** True when `payload` matches the CRC32C stored after it. */
export function payloadCrcMatches(payload: Uint8Array, storedCrc: number): boolean {
  return crc32c(payload) === storedCrc;
}

/** Fixed 40-byte prefix of an EVENTS payload; the compressed records follow it. */
export interface ChunkMeta {
  readonly seq: number;
  readonly count: number;
  readonly rawLength: number;
  /** 1 = zstd (the only codec of format 1.0). */
  readonly codec: number;
  readonly firstTs: bigint;
  readonly lastTs: bigint;
  readonly lostBefore: number;
}
export const CHUNK_META_SIZE = 40;
export const CODEC_ZSTD = 1;

export function encodeChunkMeta(m: ChunkMeta): Buffer {
  const b = Buffer.alloc(CHUNK_META_SIZE);
  b.writeUInt32LE(m.seq, 0);
  b.writeUInt32LE(m.count, 4);
  b.writeUInt32LE(m.rawLength, 8);
  b.writeUInt16LE(m.codec, 12);
  b.writeBigUInt64LE(m.firstTs, 16);
  b.writeBigUInt64LE(m.lastTs, 24);
  b.writeBigUInt64LE(BigInt(m.lostBefore), 32);
  return b;
}

/** Parses and bounds-checks chunk meta; the caller adds block and offset to errors. */
export function decodeChunkMeta(p: Buffer): ChunkMeta {
  if (p.length < CHUNK_META_SIZE) throw new CaptureError('corrupt', `EVENTS payload of ${p.length} bytes is shorter than its meta`);
  const m: ChunkMeta = {
    seq: p.readUInt32LE(0), count: p.readUInt32LE(4), rawLength: p.readUInt32LE(8), codec: p.readUInt16LE(12),
    firstTs: p.readBigUInt64LE(16), lastTs: p.readBigUInt64LE(24), lostBefore: Number(p.readBigUInt64LE(32)),
  };
  if (m.codec !== CODEC_ZSTD) throw new CaptureError('corrupt', `unknown chunk codec ${m.codec}`);
  if (m.rawLength > LIMITS.maxChunkRaw) throw new CaptureError('limit', `chunk declares ${m.rawLength} raw bytes, more than ${LIMITS.maxChunkRaw}`);
  if (m.count * RECORD_HEADER_SIZE > m.rawLength) throw new CaptureError('corrupt', `chunk declares ${m.count} records in ${m.rawLength} bytes`);
  if (m.firstTs > m.lastTs) throw new CaptureError('corrupt', 'chunk firstTs is after lastTs');
  return m;
}

/** One INDEX entry: where a chunk's block starts and what it covers. */
export interface IndexEntry {
  readonly offset: number;
  /** Whole block size, header and CRCs included. */
  readonly blockSize: number;
  readonly seq: number;
  readonly count: number;
  readonly rawLength: number;
  readonly firstTs: bigint;
  readonly lastTs: bigint;
}
const INDEX_ENTRY_SIZE = 40;
const INDEX_PREFIX_SIZE = 8;

export function encodeIndex(entries: readonly IndexEntry[]): Buffer {
  const b = Buffer.alloc(INDEX_PREFIX_SIZE + INDEX_ENTRY_SIZE * entries.length);
  b.writeUInt32LE(entries.length, 0);
  b.writeUInt32LE(INDEX_ENTRY_SIZE, 4);
  entries.forEach((e, i) => {
    const at = INDEX_PREFIX_SIZE + i * INDEX_ENTRY_SIZE;
    b.writeBigUInt64LE(BigInt(e.offset), at);
    b.writeUInt32LE(e.blockSize, at + 8);
    b.writeUInt32LE(e.seq, at + 12);
    b.writeUInt32LE(e.count, at + 16);
    b.writeUInt32LE(e.rawLength, at + 20);
    b.writeBigUInt64LE(e.firstTs, at + 24);
    b.writeBigUInt64LE(e.lastTs, at + 32);
  });
  return b;
}

/** Parses an INDEX payload. Entry size is stored so a later minor version may append fields. */
export function decodeIndex(p: Buffer, fileSize: number): IndexEntry[] {
  if (p.length < INDEX_PREFIX_SIZE) throw new CaptureError('corrupt', 'INDEX payload too short');
  const n = p.readUInt32LE(0);
  const size = p.readUInt32LE(4);
  if (size < INDEX_ENTRY_SIZE || INDEX_PREFIX_SIZE + n * size !== p.length) {
    throw new CaptureError('corrupt', `INDEX declares ${n} entries of ${size} bytes in ${p.length} bytes`);
  }
  const out: IndexEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = INDEX_PREFIX_SIZE + i * size;
    const e: IndexEntry = {
      offset: Number(p.readBigUInt64LE(at)), blockSize: p.readUInt32LE(at + 8), seq: p.readUInt32LE(at + 12),
      count: p.readUInt32LE(at + 16), rawLength: p.readUInt32LE(at + 20),
      firstTs: p.readBigUInt64LE(at + 24), lastTs: p.readBigUInt64LE(at + 32),
    };
    if (e.offset < FILE_HEADER_SIZE || e.offset + e.blockSize > fileSize || e.blockSize > LIMITS.maxPayload + BLOCK_OVERHEAD
      || e.blockSize < BLOCK_OVERHEAD + CHUNK_META_SIZE) {
      throw new CaptureError('corrupt', `INDEX entry ${i} points outside the file`);
    }
    out.push(e);
  }
  return out;
}

/** TRAILER payload: where the index and final stats are, and an end marker. Always the file's last 52 bytes. */
export const TRAILER_END_MAGIC: Buffer = Buffer.from('KCAPEND\n', 'latin1');
const TRAILER_PAYLOAD_SIZE = 32;
export const TRAILER_BLOCK_SIZE = BLOCK_OVERHEAD + TRAILER_PAYLOAD_SIZE;

export interface Trailer {
  readonly indexOffset: number;
  readonly statsOffset: number;
  readonly chunkCount: number;
}

export function encodeTrailer(t: Trailer): Buffer {
  const b = Buffer.alloc(TRAILER_PAYLOAD_SIZE);
  b.writeBigUInt64LE(BigInt(t.indexOffset), 0);
  b.writeBigUInt64LE(BigInt(t.statsOffset), 8);
  b.writeUInt32LE(t.chunkCount, 16);
  TRAILER_END_MAGIC.copy(b, 24);
  return b;
}

export function decodeTrailer(p: Buffer): Trailer {
  if (p.length !== TRAILER_PAYLOAD_SIZE || !p.subarray(24).equals(TRAILER_END_MAGIC)) {
    throw new CaptureError('corrupt', 'TRAILER payload is malformed');
  }
  return { indexOffset: Number(p.readBigUInt64LE(0)), statsOffset: Number(p.readBigUInt64LE(8)), chunkCount: p.readUInt32LE(16) };
}
