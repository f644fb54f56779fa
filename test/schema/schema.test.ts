/**
 * The schema is the contract between the BPF programs and every reader: these tests check the
 * committed schema's consistency, that generated files are current, and that decoding untrusted
 * bytes or an untrusted embedded schema only ever fails with typed results.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordDecoder, isDecodeFailure } from '../../src/schema/decode.js';
import { encodeRecord } from '../../src/schema/encode.js';
import { EVENT_SCHEMA, EventId } from '../../src/schema/events.generated.js';
import {
  HeaderOffset, RECORD_HEADER, RECORD_HEADER_SIZE, recordCpu, recordLen, recordPid, recordTid, recordTs, recordTsHi, recordTsLo, recordType,
} from '../../src/schema/header.generated.js';
import { SchemaError, resolveSchema } from '../../src/schema/schema.js';

const schema = resolveSchema(EVENT_SCHEMA);
const decoder = new RecordDecoder(schema);

describe('the committed schema', () => {
  it('is what formats/events.json says', () => {
    const json = JSON.parse(readFileSync(new URL('../../formats/events.json', import.meta.url), 'utf8'));
    expect(EVENT_SCHEMA).toEqual(json);
  });

  it('has generated files up to date', () => {
    execFileSync('npx', ['tsx', 'scripts/gen-schema.ts', '--check'], { cwd: new URL('../..', import.meta.url) });
  });

  it('gives every event a category, and a direction exactly to I/O and TLS plaintext events', () => {
    for (const e of schema.events) {
      expect(['io', 'net', 'file', 'process', 'tcp', 'tls']).toContain(e.category);
      expect(e.dir !== undefined).toBe(e.category === 'io' || e.category === 'tls');
    }
  });

  it('carries the socket tuple on every I/O and TCP event', () => {
    for (const e of schema.events.filter((x) => x.category === 'io' || x.category === 'tcp')) {
      for (const f of ['ino', 'laddr', 'raddr', 'lport', 'rport', 'family', 'l4proto']) {
        expect(e.fieldByName.has(f), `${e.name}.${f}`).toBe(true);
      }
    }
  });

  it('names ids the same way in the generated module', () => {
    for (const e of schema.events) expect(EventId[e.name as keyof typeof EventId]).toBe(e.id);
  });
});

describe('decoding', () => {
  it('round-trips every event type with its fields and vars', () => {
    for (const e of schema.events) {
      const fields: Record<string, number | Uint8Array> = {};
      e.fields.forEach((f, i) => { fields[f.name] = f.type === 'bytes16' ? new Uint8Array(16).fill(i) : i + 1; });
      const vars = Object.fromEntries(e.vars.map((v, i) => [v.name, v.type === 'string' ? `s${i}` : new Uint8Array([i, 2, 3])]));
      const raw = encodeRecord(schema, e.name, { ts: 123n, pid: 7, tid: 8, cpu: 1, fields, vars });
      const d = decoder.decode(raw);
      if (isDecodeFailure(d)) throw new Error(d.error);
      expect(d.name).toBe(e.name);
      expect([d.ts, d.pid, d.tid, d.cpu, d.length]).toEqual([123n, 7, 8, 1, raw.length]);
      expect(d.fields).toEqual(fields);
      expect(d.vars).toEqual(vars);
    }
  });

  it('reads negative return values and 64-bit counts', () => {
    const raw = encodeRecord(schema, 'read', { ts: 1n, pid: 1, tid: 1, fields: { res: -104, latency: 2 ** 40 + 5 } });
    const d = decoder.decode(raw);
    if (isDecodeFailure(d)) throw new Error(d.error);
    expect(d.fields.res).toBe(-104);
    expect(d.fields.latency).toBe(2 ** 40 + 5);
  });

  it('never throws on arbitrary bytes, and never reads past the record', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(16), (bytes, off) => {
      const r = decoder.decode(bytes, Math.min(off, bytes.length));
      if (!isDecodeFailure(r)) expect(Math.min(off, bytes.length) + r.length).toBeLessThanOrEqual(bytes.length);
    }), { numRuns: 5000 });
  });

  it('reports a variable length that overruns its record', () => {
    const raw = encodeRecord(schema, 'write', { ts: 1n, pid: 1, tid: 1, vars: { data: 'hello' } });
    const ev = schema.byName.get('write')!;
    new DataView(raw.buffer).setUint32(ev.varLensOffset, 1000, true);
    const d = decoder.decode(raw);
    expect(isDecodeFailure(d) && d.error).toMatch(/write\.data length 1000 overruns/);
  });
});

describe('the record header reader', () => {
  it('reads every header field as encodeRecord laid it out, the 64-bit ts also as u32 halves', () => {
    const raw = encodeRecord(schema, 'close', { ts: 0x1234_5678_9abc_def0n, pid: 0x8000_0001, tid: 0xffff_fffe, cpu: 0xffff });
    const at = 8;
    const buf = new Uint8Array(at + raw.length);
    buf.set(raw, at);
    const v = new DataView(buf.buffer);
    expect([recordLen(v, at), recordType(v, at), recordCpu(v, at), recordTs(v, at), recordPid(v, at), recordTid(v, at)])
      .toEqual([raw.length, EventId.close, 0xffff, 0x1234_5678_9abc_def0n, 0x8000_0001, 0xffff_fffe]);
    expect([recordTsHi(v, at), recordTsLo(v, at)]).toEqual([0x1234_5678, 0x9abc_def0]);
  });

  it('has the offsets and size the schema resolves the header to', () => {
    expect(schema.header.map((f) => ({ name: f.name, type: f.type, offset: f.offset }))).toEqual(RECORD_HEADER);
    expect(Object.entries(HeaderOffset)).toEqual(schema.header.map((f) => [f.name, f.offset]));
    expect(schema.headerSize).toBe(RECORD_HEADER_SIZE);
  });
});

describe('an untrusted embedded schema', () => {
  it('is refused with SchemaError, never another error', () => {
    fc.assert(fc.property(fc.anything(), (junk) => {
      try {
        resolveSchema(junk);
      } catch (e) {
        expect(e).toBeInstanceOf(SchemaError);
      }
    }), { numRuns: 2000 });
  });

  it('is refused when a field would be misaligned', () => {
    const bad = structuredClone(EVENT_SCHEMA) as unknown as { events: { fields: unknown[] }[] };
    bad.events[0]!.fields.unshift({ name: 'x', type: 'u8', desc: '' });
    expect(() => resolveSchema(bad)).toThrow(/misaligned/);
  });

  it('is refused when it moves a framing header field', () => {
    const bad = structuredClone(EVENT_SCHEMA) as unknown as { header: { name: string }[] };
    bad.header.reverse();
    expect(() => resolveSchema(bad)).toThrow(SchemaError);
  });

  it('is refused when its header has a field more than the one every schema shares', () => {
    const bad = structuredClone(EVENT_SCHEMA) as unknown as { header: unknown[] };
    bad.header.push({ name: 'flags', type: 'u64', desc: '' });
    expect(() => resolveSchema(bad)).toThrow(/header: has 7 fields, not 6/);
  });
});
