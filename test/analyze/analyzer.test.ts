/**
 * The push-style Analyzer: fed chunk by chunk (as the recorder does) it gives the same result as
 * analyze() of the whole source, whatever the chunk size; its record stream carries exactly the
 * records the report counts, in completion order; and it refuses to be used after finish().
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { Analyzer } from '../../src/analyze/analyzer.js';
import type { RawChunk } from '../../src/capture/source.js';
import type { L7Record } from '../../src/protocols/index.js';
import { renderJson } from '../../src/report/json.js';
import { CaptureBuilder, tupleFields } from '../helpers/source.js';

const C_END = { laddr: '127.0.0.1', lport: 40000, raddr: '127.0.0.1', rport: 6379 };

/** A redis client sending `n` SETs then GETs; the server answers GETs of odd i with nil. */
function redisCapture(n: number): CaptureBuilder {
  const b = new CaptureBuilder().thread(100, 100, 'app');
  b.add('connect', { pid: 100, tid: 100, fields: { fd: 3, res: 0, ...tupleFields(C_END) } });
  const io = (name: 'read' | 'write', data: string): void => {
    b.add(name, { pid: 100, tid: 100, fields: { fd: 3, res: data.length, latency: 500, ...tupleFields(C_END) }, vars: { data } });
  };
  for (let i = 0; i < n; i++) {
    const cmd = i % 2 === 0 ? `*3\r\n$3\r\nSET\r\n$2\r\nk${i % 10}\r\n$1\r\nv\r\n` : `*2\r\n$3\r\nGET\r\n$2\r\nk${i % 10}\r\n`;
    io('write', cmd);
    io('read', i % 2 === 0 ? '+OK\r\n' : i % 4 === 1 ? '$-1\r\n' : '$1\r\nv\r\n');
  }
  return b;
}

async function pushed(b: CaptureBuilder, perChunk: number, onRecord?: (r: L7Record) => void): Promise<string> {
  const source = b.source(perChunk);
  const analyzer = new Analyzer(source);
  if (onRecord) analyzer.onRecord(onRecord);
  for await (const c of source.chunks()) analyzer.chunk(c);
  return renderJson(analyzer.finish());
}

describe('Analyzer', () => {
  it('gives the same report pushed chunk by chunk as analyze() of the source, for any chunk size', async () => {
    const b = redisCapture(200);
    const whole = renderJson(await analyze(b.source(1000)));
    expect(JSON.parse(whole).requests).toBe(200);
    for (const per of [1, 7, 64]) expect(await pushed(b, per)).toBe(whole);
  });

  it('streams exactly the records the report counts, in completion order', async () => {
    const seen: L7Record[] = [];
    const report = JSON.parse(await pushed(redisCapture(40), 5, (r) => seen.push(r)));
    expect(seen).toHaveLength(report.requests);
    expect(seen.map((r) => r.operation)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'SET' : 'GET')));
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.endTs >= seen[i - 1]!.endTs).toBe(true);
  });

  it('streams only what the protocol, window and record filter select, as the report counts', async () => {
    const b = redisCapture(40);
    const seen: L7Record[] = [];
    const r = await analyze(b.source(), { recordFilter: (rec) => rec.operation === 'GET' }, (rec) => seen.push(rec));
    expect(r.requests).toBe(20);
    expect(seen.every((s) => s.operation === 'GET')).toBe(true);
    expect(seen).toHaveLength(20);
    const none = await analyze(b.source(), { protocols: ['http1'] }, (rec) => seen.push(rec));
    expect(none.requests).toBe(0);
    expect(seen).toHaveLength(20);
  });

  it('refuses chunks after finish and a second finish', async () => {
    const source = redisCapture(2).source();
    const analyzer = new Analyzer(source);
    const chunks: RawChunk[] = [];
    for await (const c of source.chunks()) chunks.push(c);
    analyzer.finish();
    expect(() => analyzer.chunk(chunks[0]!)).toThrow(/after finish/);
    expect(() => analyzer.finish()).toThrow(/twice/);
  });
});
