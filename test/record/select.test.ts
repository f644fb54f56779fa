/**
 * The record filter in user space (RecordSelector.compact), on the generated session: it keeps in
 * place exactly the I/O and TCP events a filter selects plus every state change, in order, with a
 * summary that says what the writer's own walk of the kept records would, and the kept records
 * replay to what the filter selects from the whole session. Recorded for real in
 * test/record/record-cli.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordSummary, type EventSource, type RawChunk } from '../../src/capture/index.js';
import { compileFilter } from '../../src/filter/index.js';
import { replay } from '../../src/probe/replay.js';
import { RecordSelector } from '../../src/record/select.js';
import { filterExpressions, SCENARIO_ATOMS } from '../filter/expressions.js';
import { collectEvents, type PrintedEvent } from '../helpers/source.js';
import { buildScenario } from '../probe/scenario.js';

interface Rec { readonly num: number; readonly bytes: Uint8Array; readonly cpu: number; readonly ts: bigint }

async function chunksOf(source: EventSource): Promise<RawChunk[]> {
  const out: RawChunk[] = [];
  for await (const c of source.chunks()) out.push(c);
  return out;
}

/** The records of a source by number, framed independently of the selector. */
function framed(chunks: readonly RawChunk[]): Rec[] {
  const recs: Rec[] = [];
  for (const c of chunks) {
    const view = new DataView(c.records.buffer, c.records.byteOffset, c.records.byteLength);
    for (let off = 0; off < c.records.length; off += view.getUint32(off, true)) {
      recs.push({ num: recs.length + 1, bytes: c.records.slice(off, off + view.getUint32(off, true)), cpu: view.getUint16(off + 6, true), ts: view.getBigUint64(off + 8, true) });
    }
  }
  return recs;
}

/** Record numbers the selector must keep: state changes, and the I/O and TCP events `filter` selects. */
async function expectedKeep(source: EventSource, filter: string): Promise<Set<number>> {
  const selects = compileFilter(filter);
  const keep = new Set<number>();
  await replay(source, (ev) => {
    if (!(ev.isIo || ev.category === 'tcp') || selects(ev)) keep.add(ev.num);
  });
  return keep;
}

function withoutNum({ num: _num, ...rest }: PrintedEvent): Omit<PrintedEvent, 'num'> {
  return rest;
}

describe('the record filter in user space', () => {
  const { builder, n } = buildScenario();
  const source = builder.source(5);

  async function compactAll(filter: string) {
    const chunks = await chunksOf(source);
    const selector = new RecordSelector(source, compileFilter(filter));
    const summary = recordSummary(2);
    const kept: { bytes: Uint8Array; summary: number[] }[] = [];
    for (const c of chunks) {
      const batch = c.records.slice();
      const length = selector.compact(batch, summary);
      kept.push({ bytes: batch.slice(0, length), summary: [...summary] });
    }
    return { chunks, kept };
  }

  it('keeps the server port\'s I/O and every state change, and drops the rest', async () => {
    const { kept } = await compactAll('fd.sport = 8080');
    const numOfTs = new Map(framed(await chunksOf(source)).map((r) => [r.ts, r.num]));
    const keptNums = framed(kept.map((k, seq) => ({ seq, records: k.bytes, count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 })))
      .map((r) => numOfTs.get(r.ts));
    for (const step of ['request', 'requestIn', 'response', 'responseIn', 'eof', 'missed', 'retransmit', 'connect', 'accept', 'close', 'reopen', 'fork', 'exec', 'childExit'] as const) {
      expect(keptNums, step).toContain(n[step]);
    }
    for (const step of ['log', 'fileRead', 'childWrite', 'dnsQuery', 'eagain'] as const) {
      expect(keptNums, step).not.toContain(n[step]);
    }
  });

  it('keeps exactly what the filter selects plus state changes, summarized, for random filters', async () => {
    const all = framed(await chunksOf(source));
    await fc.assert(fc.asyncProperty(filterExpressions(SCENARIO_ATOMS), async (filter) => {
      const keep = await expectedKeep(source, filter);
      const { chunks, kept } = await compactAll(filter);
      let first = 0;
      chunks.forEach((c, i) => {
        const inChunk = all.slice(first, first + c.count);
        first += c.count;
        const want = inChunk.filter((r) => keep.has(r.num));
        expect(Buffer.from(kept[i]!.bytes).equals(Buffer.concat(want.map((r) => r.bytes))), `${filter}: chunk ${i}`).toBe(true);
        const ts = want.map((r) => r.ts);
        const [lo, hi] = [ts.reduce((a, b) => (b < a ? b : a), ts[0] ?? 0n), ts.reduce((a, b) => (b > a ? b : a), 0n)];
        const split = (t: bigint) => [Number(t & 0xffff_ffffn), Number(t >> 32n)];
        expect(kept[i]!.summary, `${filter}: chunk ${i} summary`).toEqual(want.length === 0 ? [0, 0, 0, 0, 0, 0, 0]
          : [want.length, ...split(lo), ...split(hi), ...[0, 1].map((cpu) => want.filter((r) => r.cpu === cpu).length)]);
      });
    }), { numRuns: 100 });
  });

  it('the kept records replay to the events the filter selects from the whole session', async () => {
    for (const filter of ['fd.sport = 8080', 'proc.name = nginx and evt.dir = in', 'fd.l4proto = udp or fd.type = file']) {
      const { kept } = await compactAll(filter);
      const compacted: EventSource = { ...source, async *chunks() {
        yield* kept.map((k, seq) => ({ seq, records: k.bytes, count: k.summary[0]!, firstTs: 0n, lastTs: 0n, lostBefore: 0 }));
      } };
      const want = (await collectEvents(source, filter)).map(withoutNum);
      expect(want.length, filter).toBeGreaterThan(0);
      expect((await collectEvents(compacted, filter)).map(withoutNum), filter).toEqual(want);
    }
  });
});
