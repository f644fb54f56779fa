/** Shared fixtures for the capture tests: temp files, a machine, and writing/reading whole captures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CaptureWriter, openCapture, type MachineInfo, type OpenOptions, type Tables, type WriterOptions } from '../../src/capture/index.js';
import { EVENT_SCHEMA } from '../../src/schema/events.generated.js';
import { resolveSchema } from '../../src/schema/schema.js';

export const schema = resolveSchema(EVENT_SCHEMA);

export const machine: MachineInfo = {
  hostname: 'testhost', kernelRelease: '6.18.0', kernelVersion: '#1 SMP', arch: 'x86_64', cpus: 2,
  memoryBytes: 24 * 2 ** 30, bootId: '00000000-0000-4000-8000-000000000000', os: 'Debian GNU/Linux 13',
};

export const clock = { bootNs: 1_000_000_000n, realtimeNs: 1_795_000_000_000_000_000n };

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

/** Block boundaries of a well-formed capture, read straight from the framing (for expectations). */
export interface BlockSpan {
  readonly offset: number;
  readonly type: number;
  readonly end: number;
}

export function blockLayout(bytes: Uint8Array): BlockSpan[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BlockSpan[] = [];
  for (let off = 16; off < bytes.length;) {
    const end = off + 20 + view.getUint32(off + 8, true);
    out.push({ offset: off, type: view.getUint16(off + 4, true), end });
    off = end;
  }
  return out;
}

export const BLOCK = { HEADER: 1, SCHEMA: 2, TABLE: 3, EVENTS: 4, STATS: 5, INDEX: 6, TRAILER: 7 } as const;
