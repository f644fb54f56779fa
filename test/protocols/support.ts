/**
 * Shared by the protocol tests: feeding transcripts (recorded or hand-built) to a protocol's
 * parser, and the fast-check properties every protocol must satisfy — any split of a valid
 * stream gives the same records; random, truncated or damaged input never throws or hangs.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Chunk } from '../helpers/relay.js';
import type { Direction, L7Record, ProtocolSpec, Transport } from '../../src/protocols/index.js';
import { recordFields } from '../../src/protocols/index.js';
import { concat as concatAll } from '../capture/helpers.js';

/** KCAP_FC_SCALE=20 runs every property 20 times longer (deeper fuzzing on demand). */
const SCALE = Math.max(1, Number(process.env.KCAP_FC_SCALE ?? 1) || 1);

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export const concat = (...parts: Uint8Array[]): Uint8Array => concatAll(parts);

/** One syscall's worth of bytes in a hand-built transcript. */
export interface Ev {
  readonly dir: Direction;
  readonly bytes: Uint8Array;
  readonly ts: bigint;
}

/** A transcript from alternating request/response payloads, ts 1, 2, 3, … */
export function transcript(...parts: [Direction, Uint8Array | string][]): Ev[] {
  return parts.map(([dir, b], i) => ({ dir, bytes: typeof b === 'string' ? enc(b) : b, ts: BigInt(i + 1) }));
}

export interface FeedOptions {
  readonly transport?: Transport;
  /** Pass at most this many bytes per event, the rest as a known gap (like the recorder). */
  readonly snaplen?: number;
}

/** Feed events to one fresh connection parser; all records including those flushed at end. */
export function run(spec: ProtocolSpec, events: readonly Ev[], o: FeedOptions = {}): L7Record[] {
  const p = spec.open({ transport: o.transport ?? 'stream' });
  const out: L7Record[] = [];
  for (const e of events) {
    const shown = o.snaplen === undefined ? e.bytes : e.bytes.subarray(0, o.snaplen);
    out.push(...p.data(e.dir, shown, e.ts, e.bytes.length));
  }
  out.push(...p.end());
  return out;
}

/** Records of every connection a relay recorded, in connection order. */
export function runRecorded(spec: ProtocolSpec, chunks: readonly Chunk[], o: FeedOptions = {}): L7Record[] {
  const conns = [...new Set(chunks.map((c) => c.conn))];
  return conns.flatMap((id) => run(spec, chunks.filter((c) => c.conn === id), o));
}

/**
 * What the recorder will see: only the first 4 KiB of each read, the rest a known gap. Bodies,
 * values and rows inside gaps are skipped, exchanges cut by them salvaged, so every request
 * still gets the same operation, resource, status and reply.
 */
export function expectSameExchangesUnderSnaplen(spec: ProtocolSpec, chunks: readonly Chunk[], transport: Transport = 'stream'): void {
  const summary = (rs: readonly L7Record[]): string[] => rs.map((r) => `${r.operation} ${r.resource} ${r.status} ${r.reply}`);
  expect(summary(runRecorded(spec, chunks, { transport, snaplen: 4096 }))).toEqual(summary(runRecorded(spec, chunks, { transport })));
}

/** Bytes the client and server sent, as the relay saw them. */
export function bytesEachWay(chunks: readonly Chunk[]): { req: number; resp: number } {
  let req = 0;
  let resp = 0;
  for (const c of chunks) {
    if (c.dir === 'req') req += c.bytes.length;
    else resp += c.bytes.length;
  }
  return { req, resp };
}

export function countBy(records: readonly L7Record[], key: (r: L7Record) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[key(r)] = (out[key(r)] ?? 0) + 1;
  return out;
}

/** Every record uses only declared fields, with values of the declared type. */
export function expectDeclaredFields(records: readonly L7Record[]): void {
  const types = new Map(recordFields().map((f) => [f.name, f.type]));
  for (const r of records) {
    for (const [name, value] of Object.entries(r.fields)) {
      const t = types.get(name);
      expect(t, `field ${name} is declared`).toBeDefined();
      if (t === 'string') expect(typeof value).toBe('string');
      else if (t === 'bool') expect(typeof value).toBe('boolean');
      else expect(Number.isInteger(value) && (value as number) >= 0, `${name} = ${String(value)}`).toBe(true);
    }
  }
}

/** Cut each event into fragments at the given fractions (same direction and time). */
function split(events: readonly Ev[], cuts: readonly number[][]): Ev[] {
  return events.flatMap((e, i) => {
    const at = [...new Set((cuts[i] ?? []).map((f) => Math.floor(f * e.bytes.length)))]
      .filter((x) => x > 0 && x < e.bytes.length).sort((a, b) => a - b);
    const bounds = [0, ...at, e.bytes.length];
    return bounds.slice(1).map((end, k) => ({ ...e, bytes: e.bytes.subarray(bounds[k], end) }));
  });
}

/** Property: however the stream events are fragmented, the records are the same. */
export function expectSplitInvariance(spec: ProtocolSpec, events: readonly Ev[], runs = 200): void {
  const whole = run(spec, events);
  expect(whole.length).toBeGreaterThan(0);
  const cut = fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
    { minLength: events.length, maxLength: events.length });
  fc.assert(fc.property(cut, (cuts) => {
    expect(run(spec, split(events, cuts))).toEqual(whole);
  }), { numRuns: runs * SCALE });
}

const dirArb = fc.constantFrom<Direction>('req', 'resp');

/** Property: random bytes, truncated and damaged valid streams never throw (and return). */
export function expectRobust(spec: ProtocolSpec, valid: readonly Ev[], transport: Transport = 'stream', runs = 300): void {
  const garbage = fc.array(fc.record({ dir: dirArb, bytes: fc.uint8Array({ maxLength: 300 }), gap: fc.nat(5000) }), { maxLength: 20 });
  fc.assert(fc.property(garbage, (events) => {
    const p = spec.open({ transport });
    events.forEach((e, i) => {
      expect(Array.isArray(p.data(e.dir, e.bytes, BigInt(i), e.bytes.length + (e.gap % 3 === 0 ? e.gap : 0)))).toBe(true);
    });
    expect(Array.isArray(p.end())).toBe(true);
  }), { numRuns: runs * SCALE });
  const total = valid.reduce((n, e) => n + e.bytes.length, 0);
  const damage = fc.record({
    truncateAt: fc.nat(total),
    flips: fc.array(fc.record({ at: fc.nat(Math.max(0, total - 1)), value: fc.nat(255) }), { maxLength: 8 }),
    snaplen: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
  });
  fc.assert(fc.property(damage, ({ truncateAt, flips, snaplen }) => {
    let offset = 0;
    const damaged: Ev[] = [];
    for (const e of valid) {
      if (offset >= truncateAt) break;
      const bytes = new Uint8Array(e.bytes.subarray(0, truncateAt - offset));
      for (const f of flips) if (f.at >= offset && f.at < offset + bytes.length) bytes[f.at - offset] = f.value;
      damaged.push({ ...e, bytes });
      offset += e.bytes.length;
    }
    const records = run(spec, damaged, { transport, snaplen });
    for (const r of records) expect(r.endTs >= r.startTs).toBe(true);
  }), { numRuns: runs * SCALE });
}
