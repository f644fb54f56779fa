/** Shared fixtures for the capture tests: temp files, a machine, and writing/reading whole captures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CaptureWriter, openCapture, type OpenOptions, type Tables, type WriterOptions } from '../../src/capture/index.js';
import { clock, machine } from './fixtures/machine.js';

export { clock, machine, schema } from './fixtures/machine.js';

/** A temp directory removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kcap-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `batches` (each any concatenation of whole records) into a new capture. */
export function writeCapture(path: string, batches: readonly Uint8Array[], opts: Partial<WriterOptions> = {}): CaptureWriter {
  const w = CaptureWriter.create(path, { machine, clock, snaplen: 4096, ...opts });
  for (const b of batches) w.append(b);
  w.close();
  return w;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Everything a capture yields: its records concatenated, chunk by chunk. */
export async function readAll(path: string, opts?: OpenOptions): Promise<{ records: Uint8Array; chunks: number; count: number; tables: Tables }> {
  const r = await openCapture(path, opts);
  try {
    const parts: Uint8Array[] = [];
    let count = 0;
    for await (const c of r.chunks()) {
      parts.push(c.records);
      count += c.count;
    }
    return { records: concat(parts), chunks: parts.length, count, tables: r.tables };
  } finally {
    await r.close();
  }
}

/** Splits concatenated records into single records. */
export function splitRecords(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < bytes.length;) {
    const len = view.getUint32(off, true);
    out.push(bytes.subarray(off, off + len));
    off += len;
  }
  return out;
}

export const emptyTables: Tables = { threads: [], fds: [], containers: [], users: [], groups: [], interfaces: [] };

/**
 * Block boundaries of a capture written by the writer (possibly cut short), read straight from
 * the framing without the reader (for expectations); a torn last block is left out.
 */
export interface BlockSpan {
  readonly offset: number;
  readonly type: number;
  readonly end: number;
}

export function blockLayout(bytes: Uint8Array): BlockSpan[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BlockSpan[] = [];
  for (let off = 16; off + 16 <= bytes.length;) {
    const end = off + 20 + view.getUint32(off + 8, true);
    if (end > bytes.length) break;
    out.push({ offset: off, type: view.getUint16(off + 4, true), end });
    off = end;
  }
  return out;
}

export const BLOCK = { HEADER: 1, SCHEMA: 2, TABLE: 3, EVENTS: 4, STATS: 5, INDEX: 6, TRAILER: 7 } as const;
