/**
 * Event chunks: runs of whole raw records, zstd-compressed as one frame. Records frame themselves
 * by their leading u32 length, so a chunk needs no per-record index; this module walks that
 * framing (refusing anything that is not whole records) and compresses/decompresses with a size
 * known in advance, so decompression allocates exactly the declared (and capped) raw length.
 */
import { Compressor } from 'zstd-napi';
import binding from 'zstd-napi/binding.js';
import { RECORD_HEADER_SIZE, recordLen, recordTs } from '../schema/header.generated.js';
import { CaptureError, asCaptureError } from './errors.js';

/** A view over the records of a chunk, for the header accessors. */
export function recordsView(raw: Uint8Array): DataView {
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** Length of the record at `off`, or why the bytes there are not a whole record. */
export function recordLengthAt(view: DataView, off: number): number | string {
  const left = view.byteLength - off;
  if (left < 4) return `record length truncated at byte ${off}`;
  const len = recordLen(view, off);
  if (len < RECORD_HEADER_SIZE) return `record at byte ${off} declares ${len} bytes, less than the ${RECORD_HEADER_SIZE}-byte header`;
  if (len > left) return `record at byte ${off} declares ${len} bytes, only ${left} remain`;
  return len;
}

/** Counts the records of a decompressed chunk, throwing a CaptureError if the framing breaks. */
export function countRecords(raw: Uint8Array): number {
  const view = recordsView(raw);
  let count = 0;
  for (let off = 0; off < raw.length; count++) {
    const len = recordLengthAt(view, off);
    if (typeof len === 'string') throw new CaptureError('corrupt', `chunk framing broken: ${len}`);
    off += len;
  }
  return count;
}

/** Copies the records whose ts lies in [fromNs, toNs] into a new buffer. */
export function recordsInRange(raw: Uint8Array, fromNs: bigint, toNs: bigint): { records: Uint8Array; count: number } {
  const view = recordsView(raw);
  const keep: Array<[number, number]> = [];
  let size = 0;
  for (let off = 0; off < raw.length;) {
    const len = recordLengthAt(view, off) as number;
    const ts = recordTs(view, off);
    if (ts >= fromNs && ts <= toNs) {
      keep.push([off, len]);
      size += len;
    }
    off += len;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const [off, len] of keep) {
    out.set(raw.subarray(off, off + len), at);
    at += len;
  }
  return { records: out, count: keep.length };
}

/** One compressor per writer: it keeps its zstd context between chunks. */
export class ChunkCompressor {
  private readonly zstd = new Compressor();

  constructor(level: number) {
    this.zstd.setParameters({ compressionLevel: level });
  }

  compress(raw: Uint8Array): Buffer {
    return this.zstd.compress(raw);
  }
}

/** One decompression context per reader. */
export class ChunkDecompressor {
  private readonly dctx = new binding.DCtx();

  /** Decompresses into exactly `rawLength` bytes; anything else is corruption. `shared`: into
   * a SharedArrayBuffer, which worker threads can read without a copy. */
  decompress(frame: Uint8Array, rawLength: number, shared = false): Buffer {
    const out = shared ? Buffer.from(new SharedArrayBuffer(rawLength)) : Buffer.allocUnsafe(rawLength);
    let n: number;
    try {
      n = this.dctx.decompress(out, frame);
    } catch (err) {
      throw asCaptureError(err, 'corrupt', 'chunk does not decompress');
    }
    if (n !== rawLength) throw new CaptureError('corrupt', `chunk decompressed to ${n} bytes, meta says ${rawLength}`);
    return out;
  }
}
