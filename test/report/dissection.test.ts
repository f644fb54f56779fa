/**
 * print -A's per-connection dissection on generated captures: ends whose role is unknown are
 * oriented by the protocol's own view of their bytes; a closed end is forgotten; past the cap the
 * least recently active end is forgotten, so when it speaks again it is read as joined mid-way
 * (unknown, never wrong, headers); events the kernel lost make every followed stream's header
 * state unknown.
 */
import { describe, expect, it } from 'vitest';
import type { EventSource, RawChunk } from '../../src/capture/source.js';
import { replay } from '../../src/probe/replay.js';
import { FLAG_END_HEADERS, FLAG_END_STREAM, HEADERS } from '../../src/protocols/http2/types.js';
import { ConnectionDissection } from '../../src/report/dissection.js';
import { dissectedText } from '../../src/report/event.js';
import { printEvents } from '../../src/report/print.js';
import { CaptureBuilder, linesByEvent, tupleFields } from '../helpers/source.js';
import { STATIC, frame, headersBlock, preface, settings } from '../protocols/http2-build.js';
import { concat } from '../protocols/support.js';

const UNKNOWN = '    ?: ?  (unknown: dynamic table entry from before the capture or a loss)';

/** A request whose authority goes into the dynamic table, and one that refers to it (index 62). */
const FIRST = concat(preface(), settings(), frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1, headersBlock([
  { index: STATIC.methodGet }, { name: STATIC.authority, value: 'a:1' },
])));
const AGAIN = frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 3, headersBlock([{ index: STATIC.methodGet }, { index: 62 }]));

/** Client ends of two h2 connections with no connect in the capture (role unknown), interleaved; then A closes. */
function twoConnections() {
  const b = new CaptureBuilder();
  b.thread(200, 200, 'client');
  const tuple = (lport: number) => ({ laddr: '127.0.0.1', lport, raddr: '127.0.0.1', rport: 8443 });
  const write = (fd: number, lport: number, bytes: Uint8Array) => b.add('write', {
    pid: 200, tid: 200, fields: { fd, res: bytes.length, latency: 1, ...tupleFields(tuple(lport)) }, vars: { data: bytes },
  });
  const n = {
    aFirst: write(5, 40001, FIRST), bFirst: write(6, 40002, FIRST), aAgain: write(5, 40001, AGAIN),
    close: b.add('close', { pid: 200, tid: 200, fields: { fd: 5, res: 0, latency: 1, ...tupleFields(tuple(40001)) } }),
  };
  return { b, n };
}

async function dissect(source: EventSource, d: ConnectionDissection): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  await replay(source, (ev) => {
    const lines = d.linesOf(ev);
    if (lines !== undefined) out.set(ev.num, dissectedText(lines));
  }, { observe: d.observe });
  return out;
}

describe('print -A dissection', () => {
  it('orients an end of unknown role by its bytes, and forgets it when it closes', async () => {
    const { b, n } = twoConnections();
    const d = new ConnectionDissection();
    const text = await dissect(b.source(), d);
    expect(text.get(n.aAgain)).toBe('  HEADERS stream=3 length=2 flags=END_STREAM,END_HEADERS\n    :method: GET\n    :authority: a:1');
    expect(d.followed).toBe(1);
  });

  it('past its cap forgets the least recently active end, which then reads as joined mid-way', async () => {
    const { b, n } = twoConnections();
    const text = await dissect(b.source(), new ConnectionDissection(1));
    expect(text.get(n.bFirst)).toContain(':authority: a:1');
    expect(text.get(n.aAgain)?.split('\n').slice(1)).toEqual(['    :method: GET', UNKNOWN]);
  });

  it('takes events the kernel lost as a hole in every followed stream', async () => {
    const { b, n } = twoConnections();
    const plain = b.source(1);
    const lossBeforeAgain: EventSource = {
      ...plain,
      async *chunks(): AsyncIterable<RawChunk> {
        for await (const c of plain.chunks()) yield c.seq === n.aAgain - 1 ? { ...c, lostBefore: 5 } : c;
      },
    };
    let out = '';
    await printEvents(lossBeforeAgain, (t) => { out += t; }, { payload: 'ascii' });
    expect(linesByEvent(out).get(n.aAgain)?.slice(1)).toEqual(['    :method: GET', UNKNOWN]);
  });
});
