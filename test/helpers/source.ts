/**
 * Builds in-memory captures for tests: host tables plus raw records encoded exactly as the BPF
 * programs lay them out (encodeRecord), presented through the same EventSource interface the
 * capture file reader and the live recorder implement. Timestamps advance by a fixed step so
 * every generated capture is deterministic.
 */
import type { ClockAnchor, EventSource, RawChunk } from '../../src/capture/source.js';
import type { FdRow, MachineInfo, Tables, ThreadRow } from '../../src/capture/tables.js';
import { compileFilter } from '../../src/filter/index.js';
import { printEvents } from '../../src/report/print.js';
import { encodeRecord, type RecordInput } from '../../src/schema/encode.js';
import { EVENT_SCHEMA } from '../../src/schema/events.generated.js';
import { resolveSchema, type ResolvedSchema } from '../../src/schema/schema.js';

export const SCHEMA: ResolvedSchema = resolveSchema(EVENT_SCHEMA);

/** 2023-11-14T22:13:20Z at boot ns 0, so UTC times in tests are easy to read. */
export const CLOCK: ClockAnchor = { bootNs: 0n, realtimeNs: 1_700_000_000_000_000_000n };

export const MACHINE: MachineInfo = {
  hostname: 'test', kernelRelease: '6.18.0', kernelVersion: '#1', arch: 'x86_64', cpus: 2, memoryBytes: 1 << 30, bootId: 'test-boot',
};

/** 16-byte kernel address field holding an IPv4 address in its first 4 bytes. */
export function ip4(text: string): Uint8Array {
  const b = new Uint8Array(16);
  text.split('.').forEach((p, i) => { b[i] = Number(p); });
  return b;
}

/** A struct sockaddr_in as user space passes it. */
export function sockaddrIn(ip: string, port: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 2;
  b[2] = port >> 8;
  b[3] = port & 0xff;
  b.set(ip4(ip).subarray(0, 4), 4);
  return b;
}

export interface Tuple {
  readonly ino?: number;
  readonly laddr: string;
  readonly lport: number;
  readonly raddr: string;
  readonly rport: number;
  /** 6 (default) or 17 */
  readonly l4proto?: number;
}

/** Record fields of an IPv4 socket tuple. */
export function tupleFields(t: Tuple): Record<string, number | Uint8Array> {
  return {
    ino: t.ino ?? 0, laddr: ip4(t.laddr), raddr: ip4(t.raddr), lport: t.lport, rport: t.rport,
    family: 2, l4proto: t.l4proto ?? 6, socktype: (t.l4proto ?? 6) === 17 ? 2 : 1,
  };
}

export function threadRow(pid: number, tid: number, comm: string, extra: Partial<ThreadRow> = {}): ThreadRow {
  return {
    pid, tid, ppid: 1, comm, exe: `/usr/bin/${comm}`, args: [comm], uid: 0, gid: 0, startNs: 0,
    pidNs: 1, netNs: 1, containerId: '', ...extra,
  };
}

export type EventInput = Omit<RecordInput, 'ts'> & { readonly ts?: bigint };

export class CaptureBuilder {
  readonly tables: Tables = { threads: [], fds: [], containers: [], users: [], groups: [], interfaces: [] };
  private readonly records: Uint8Array[] = [];
  private nextTs = 1_000_000_000n;

  constructor(readonly schema: ResolvedSchema = SCHEMA, readonly step = 1000n) {}

  thread(pid: number, tid: number, comm: string, extra: Partial<ThreadRow> = {}): this {
    this.tables.threads.push(threadRow(pid, tid, comm, extra));
    return this;
  }

  fd(row: FdRow): this {
    this.tables.fds.push(row);
    return this;
  }

  /** Appends a record of event `name`; returns its 1-based record number. */
  add(name: string, input: EventInput): number {
    const ts = input.ts ?? this.nextTs;
    this.nextTs = ts + this.step;
    this.records.push(encodeRecord(this.schema, name, { ...input, ts }));
    return this.records.length;
  }

  /** Appends raw bytes as a record (for malformed-input tests). */
  addRaw(bytes: Uint8Array): void {
    this.records.push(bytes);
  }

  get count(): number {
    return this.records.length;
  }

  /** The encoded records, in order (to write them into a capture file). */
  encoded(): readonly Uint8Array[] {
    return this.records;
  }

  source(recordsPerChunk = 64): EventSource {
    const chunks = splitChunks(this.records, recordsPerChunk, this.schema.headerSize);
    return {
      schema: this.schema, machine: MACHINE, clock: CLOCK, snaplen: 256, tables: this.tables,
      async *chunks(): AsyncIterable<RawChunk> {
        yield* chunks;
      },
    };
  }
}

function splitChunks(records: readonly Uint8Array[], per: number, headerSize: number): RawChunk[] {
  const chunks: RawChunk[] = [];
  for (let i = 0; i < records.length; i += per) {
    const part = records.slice(i, i + per);
    const bytes = new Uint8Array(part.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of part) {
      bytes.set(r, at);
      at += r.length;
    }
    const ts = part.filter((r) => r.length >= headerSize).map((r) => new DataView(r.buffer, r.byteOffset).getBigUint64(8, true));
    chunks.push({
      seq: chunks.length, records: bytes, count: part.length, lostBefore: 0,
      firstTs: ts.reduce((a, b) => (b < a ? b : a), ts[0] ?? 0n), lastTs: ts.reduce((a, b) => (b > a ? b : a), 0n),
    });
  }
  return chunks;
}

/** An event as `kcap print --json` shows it. */
export interface PrintedEvent {
  readonly num: number;
  readonly type: string;
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  readonly res: number | null;
  readonly fd: { readonly num: number; readonly gen: number; readonly type: string; readonly name: string; readonly role: string | null;
    readonly sip: string | null; readonly sport: number | null; readonly cip: string | null; readonly cport: number | null } | null;
  /** Payload, base64. */
  readonly data: string | null;
  readonly [key: string]: unknown;
}

/**
 * Replays any EventSource (a generated one, or a real recording opened with openCapture) and
 * returns the events a filter selects in their `kcap print --json` form, for plain assertions
 * such as "curl's write on the socket to 127.0.0.1:8080 carried the request".
 */
export async function collectEvents(source: EventSource, filter?: string): Promise<PrintedEvent[]> {
  let text = '';
  await printEvents(source, (t) => { text += t; }, { json: true, ...(filter ? { filter: compileFilter(filter) } : {}) });
  return text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as PrintedEvent);
}

/** `kcap print` text cut into events: each event's number → the lines printed under it (-A, -X). */
export function linesByEvent(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  let current: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) \d{4}-/.exec(line);
    if (m !== null) out.set(Number(m[1]), (current = []));
    else current.push(line);
  }
  return out;
}
