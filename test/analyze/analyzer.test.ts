/**
 * The push-style Analyzer: fed chunk by chunk (as the recorder does) it gives the same result as
 * analyze() of the whole source, whatever the chunk size; its record stream carries exactly the
 * records the report counts, in completion order; its TCP facts add up to the report's TCP
 * health on a real recording; and it refuses to be used after finish().
 */
import { describe, expect, it } from 'vitest';
import { analyze, type TcpFact } from '../../src/analyze/analyze.js';
import { openCapture } from '../../src/capture/index.js';
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
    const r = await analyze(b.source(), { recordFilter: (rec) => rec.operation === 'GET' }, { onRecord: (rec) => seen.push(rec) });
    expect(r.requests).toBe(20);
    expect(seen.every((s) => s.operation === 'GET')).toBe(true);
    expect(seen).toHaveLength(20);
    const none = await analyze(b.source(), { protocols: ['http1'] }, { onRecord: (rec) => seen.push(rec) });
    expect(none.requests).toBe(0);
    expect(seen).toHaveLength(20);
  });

  it('streams TCP facts that add up to the TCP health the report gives (real recording)', async () => {
    const reader = await openCapture(new URL('../../samples/host.kcap', import.meta.url).pathname);
    const facts: TcpFact[] = [];
    const r = await analyze(reader, { top: 10_000 }, { onTcp: (f) => facts.push(f) });
    await reader.close();
    const count = (kind: TcpFact['kind']): number => facts.filter((f) => f.kind === kind).length;
    expect(count('rtt')).toBeGreaterThan(0);
    expect(count('rtt')).toBe(r.tcp.connections.reduce((n, c) => n + c.rttSamples, 0));
    expect(count('established')).toBe(r.tcp.totals.established);
    expect(count('retransmit')).toBe(r.tcp.totals.retransmits);
    expect(count('reset-received')).toBe(r.tcp.totals.resetsReceived);
    for (const c of r.tcp.connections.filter((x) => x.rttSamples > 0)) {
      const last = facts.filter((f) => f.kind === 'rtt' && f.local === c.local && f.remote === c.remote).at(-1);
      expect(last?.srttUs).toBe(c.srttLastUs);
    }
    for (let i = 1; i < facts.length; i++) expect(facts[i]!.ts >= facts[i - 1]!.ts).toBe(true);
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
