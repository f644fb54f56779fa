/**
 * Reading blocks out of a capture file without trusting it: positioned reads that never go past
 * the end, a checked block read (header CRC, bounds, payload CRC), and a forward walk that, after
 * damage, resynchronises on the next block magic whose header checksum holds. Every damage found
 * becomes a Problem (what, which block, which offset, bytes lost) instead of an exception, so
 * callers can both recover and report.
 */
import type { FileHandle } from 'node:fs/promises';
import { CaptureError, asCaptureError, type CaptureErrorCode } from './errors.js';
import {
  BLOCK_HEADER_SIZE, BLOCK_OVERHEAD, BLOCK_TYPE_NAMES, blockHeaderProblem, payloadCrcMatches, readBlockHeader,
} from './format.js';

/** Something wrong found in a file, and what it cost. */
export interface Problem {
  readonly code: CaptureErrorCode;
  readonly message: string;
  readonly offset: number;
  /** Ordinal of the block concerned, when known. */
  readonly block?: number;
  /** File bytes that could not be used because of it. */
  readonly lostBytes: number;
}

/** A block located in the file (header checked, payload not yet). */
export interface BlockRef {
  /** Ordinal in the file (0 = first block after the file header), counted as found. */
  readonly ordinal: number;
  readonly offset: number;
  readonly type: number;
  /** Payload length. */
  readonly length: number;
}

/** A Problem from a CaptureError, costing `lostBytes`. */
export function problemOf(err: CaptureError, lostBytes: number, fallbackOffset: number): Problem {
  return {
    code: err.code, message: err.detail, offset: err.offset ?? fallbackOffset, lostBytes,
    ...(err.block !== undefined ? { block: err.block } : {}),
  };
}

const READ_AHEAD = 64 << 10;

export function blockName(type: number): string {
  return BLOCK_TYPE_NAMES[type] ?? `type ${type}`;
}

export function blockSize(ref: BlockRef): number {
  return BLOCK_OVERHEAD + ref.length;
}

/** A Problem for a block whose content failed to read or decode, located at and named by that block. */
export function blockProblem(err: unknown, ref: BlockRef): Problem {
  const name = blockName(ref.type);
  const e = asCaptureError(err, 'corrupt', `${name} block invalid`);
  const message = e.detail.startsWith(name) ? e.detail : `${name}: ${e.detail}`;
  return { code: e.code, message, block: ref.ordinal, offset: ref.offset, lostBytes: blockSize(ref) };
}

/** An open capture file: its handle, its size, and bounded positioned reads. */
export class CaptureFile {
  /** Read-ahead window: small blocks (header, tables, chunk metas) cost one read, not two each. */
  private cache: { offset: number; bytes: Buffer } = { offset: 0, bytes: Buffer.alloc(0) };

  constructor(private readonly fh: FileHandle, readonly path: string, readonly size: number) {}

  /**
   * Reads up to `length` bytes at `offset` (fewer at end of file). The result may be a view of
   * the read-ahead window, which is replaced, never overwritten, so views stay valid.
   */
  async read(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const c = this.cache;
    if (offset >= c.offset && offset + n <= c.offset + c.bytes.length) return c.bytes.subarray(offset - c.offset, offset - c.offset + n);
    if (n >= READ_AHEAD) return this.readDirect(offset, n);
    const bytes = await this.readDirect(offset, Math.min(READ_AHEAD, this.size - offset));
    this.cache = { offset, bytes };
    return bytes.subarray(0, Math.min(n, bytes.length));
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private async readDirect(offset: number, n: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(n);
    let done = 0;
    try {
      while (done < n) {
        const { bytesRead } = await this.fh.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (err) {
      throw asCaptureError(err, 'io', `read of ${this.path} failed`, { offset });
    }
    return done === n ? buf : buf.subarray(0, done);
  }

  /** Reads and checks the whole block at `offset`; returns its header and payload. */
  async readBlock(offset: number, ordinal?: number): Promise<{ ref: BlockRef; payload: Buffer }> {
    const where = { offset, ...(ordinal !== undefined ? { block: ordinal } : {}) };
    const head = await this.read(offset, BLOCK_HEADER_SIZE);
    const problem = blockHeaderProblem(head);
    if (problem) throw new CaptureError(problem.code, problem.message, where);
    const h = readBlockHeader(head);
    const ref: BlockRef = { ordinal: ordinal ?? -1, offset, ...h };
    const body = await this.read(offset + BLOCK_HEADER_SIZE, h.length + 4);
    if (body.length < h.length + 4) {
      throw new CaptureError('truncated', `${blockName(h.type)} block is torn: file ends ${h.length + 4 - body.length} bytes early`, where);
    }
    const payload = body.subarray(0, h.length);
    if (!payloadCrcMatches(payload, body.readUInt32LE(h.length))) {
      throw new CaptureError('checksum', `${blockName(h.type)} block payload checksum mismatch`, where);
    }
    return { ref, payload };
  }

  /**
   * Yields every block whose header checks out, from `start` to the end, in file order. Damage
   * is reported through `onProblem`: a bad header makes the walk resynchronise on the next valid
   * block header; a block running past the end of the file ends the walk (a torn last block).
   */
  async *walk(start: number, firstOrdinal: number, onProblem: (p: Problem) => void): AsyncGenerator<BlockRef> {
    let offset = start;
    let ordinal = firstOrdinal;
    while (offset < this.size) {
      const head = await this.read(offset, BLOCK_HEADER_SIZE);
      const problem = blockHeaderProblem(head);
      if (problem) {
        const next = await this.resync(offset + 1);
        const end = next < 0 ? this.size : next;
        onProblem({ code: problem.code, message: `${problem.message}; skipped ${end - offset} bytes`, offset, block: ordinal,
          lostBytes: end - offset });
        if (next < 0) return;
        offset = next;
        continue;
      }
      const h = readBlockHeader(head);
      const end = offset + BLOCK_OVERHEAD + h.length;
      if (end > this.size) {
        onProblem({ code: 'truncated', message: `${blockName(h.type)} block is torn: file ends ${end - this.size} bytes early`,
          offset, block: ordinal, lostBytes: this.size - offset });
        return;
      }
      yield { ordinal, offset, ...h };
      ordinal++;
      offset = end;
    }
  }

  /** Offset of the next plausible block header at or after `from`, or -1. */
  private async resync(from: number): Promise<number> {
    const window = 1 << 20;
    for (let at = from; at + BLOCK_HEADER_SIZE <= this.size; at += window - BLOCK_HEADER_SIZE + 1) {
      const buf = await this.read(at, window);
      for (let i = buf.indexOf('KBLK', 0, 'latin1'); i >= 0; i = buf.indexOf('KBLK', i + 1, 'latin1')) {
        if (i + BLOCK_HEADER_SIZE > buf.length) break;
        if (blockHeaderProblem(buf, i) === null) return at + i;
      }
    }
    return -1;
  }
}
