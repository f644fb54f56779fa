/**
 * The HTTP/2 dissector behind `kcap print -A`: hand-built connections (http2-build.ts) come out
 * as one line per wire frame with its flags and fields, header blocks decoded (joined from
 * CONTINUATIONs, the dynamic table carried from block to block), DATA bytes as bytes; a
 * connection joined mid-way shows what needs an unseen table entry as unknown; any split of the
 * bytes across reads shows the same frames; lost bytes and garbage never throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openHttp2Dissector } from '../../src/protocols/http2/dissect.js';
import {
  CONTINUATION, DATA, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED, GOAWAY, HEADERS, PING, RST_STREAM,
  SETTINGS, WINDOW_UPDATE,
} from '../../src/protocols/http2/types.js';
import type { Direction, DissectLine, Dissector } from '../../src/protocols/types.js';
import { STATIC, frame, goawayPayload, headersBlock, preface, settingsPayload, u32 } from './http2-build.js';
import { concat, enc } from './support.js';

/** Dissector lines with payload bytes as `<bytes …>` so a whole exchange compares as text. */
function show(lines: readonly DissectLine[]): string[] {
  return lines.map((l) => (typeof l === 'string' ? l : `<bytes ${JSON.stringify(Buffer.from(l).toString('latin1'))}>`));
}

function feed(d: Dissector, dir: Direction, bytes: Uint8Array, size?: number): string[] {
  return show(d.data(dir, bytes, size));
}

const REQUEST_BLOCK = headersBlock([
  { index: STATIC.methodGet }, { index: STATIC.schemeHttp },
  { name: STATIC.pathRoot, value: '/index.html?x=1' }, // inserted: 63 once the next is too
  { name: STATIC.authority, value: 'h:8080' }, // inserted: 62
  { name: 'user-agent', value: 'kcap-test', indexing: 'without', huffman: true },
]);

const RESPONSE_BLOCK = headersBlock([
  { index: STATIC.status200 },
  { name: STATIC.contentType, value: 'text/plain', indexing: 'never' },
]);

/** A client's connection start: preface, SETTINGS, a WINDOW_UPDATE, a GET in HEADERS + CONTINUATION. */
function clientStart(): Uint8Array {
  return concat(
    preface(),
    frame(SETTINGS, 0, 0, settingsPayload([2, 0], [4, 65535])),
    frame(WINDOW_UPDATE, 0, 0, u32(1 << 20)),
    frame(HEADERS, FLAG_END_STREAM, 1, REQUEST_BLOCK.subarray(0, 7)),
    frame(CONTINUATION, FLAG_END_HEADERS, 1, REQUEST_BLOCK.subarray(7)),
  );
}

function serverReply(): Uint8Array {
  return concat(
    frame(SETTINGS, 0, 0, settingsPayload([3, 100])),
    frame(SETTINGS, FLAG_ACK, 0),
    frame(HEADERS, FLAG_END_HEADERS, 1, RESPONSE_BLOCK),
    frame(DATA, FLAG_END_STREAM, 1, enc('hello')),
  );
}

const CLIENT_LINES = [
  'client preface PRI * HTTP/2.0',
  'SETTINGS stream=0 length=12 ENABLE_PUSH=0 INITIAL_WINDOW_SIZE=65535',
  'WINDOW_UPDATE stream=0 length=4 increment=1048576',
  'HEADERS stream=1 length=7 flags=END_STREAM',
  `CONTINUATION stream=1 length=${REQUEST_BLOCK.length - 7} flags=END_HEADERS`,
  `  (header block of ${REQUEST_BLOCK.length} bytes, joined from HEADERS and CONTINUATION)`,
  '  :method: GET',
  '  :scheme: http',
  '  :path: /index.html?x=1',
  '  :authority: h:8080',
  '  user-agent: kcap-test',
];

const SERVER_LINES = [
  'SETTINGS stream=0 length=6 MAX_CONCURRENT_STREAMS=100',
  'SETTINGS stream=0 length=0 flags=ACK',
  `HEADERS stream=1 length=${RESPONSE_BLOCK.length} flags=END_HEADERS`,
  '  :status: 200',
  '  content-type: text/plain  (never indexed)',
  'DATA stream=1 length=5 flags=END_STREAM',
  '<bytes "hello">',
];

describe('HTTP/2 dissector', () => {
  it('shows each frame with its flags and fields, and a header block joined from CONTINUATION decoded', () => {
    const d = openHttp2Dissector();
    expect(feed(d, 'req', clientStart())).toEqual(CLIENT_LINES);
    expect(feed(d, 'resp', serverReply())).toEqual(SERVER_LINES);
  });

  it('carries the dynamic table from block to block in each direction', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', clientStart());
    feed(d, 'resp', serverReply());
    const again = headersBlock([{ index: STATIC.methodGet }, { index: STATIC.schemeHttp }, { index: 63 }, { index: 62 }]);
    expect(feed(d, 'req', frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 3, again))).toEqual([
      `HEADERS stream=3 length=${again.length} flags=END_STREAM,END_HEADERS`,
      '  :method: GET', '  :scheme: http', '  :path: /index.html?x=1', '  :authority: h:8080',
    ]);
  });

  it('names RST_STREAM and GOAWAY errors, shows PING, padded DATA without its padding, and flag bits no type defines', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', clientStart());
    const padded = concat(Uint8Array.of(3), enc('abc'), new Uint8Array(3));
    expect(feed(d, 'resp', concat(
      frame(RST_STREAM, 0, 1, u32(8)),
      frame(PING, FLAG_ACK, 0, new Uint8Array(8)),
      frame(DATA, FLAG_PADDED | 0x40, 3, padded),
      frame(GOAWAY, 0, 0, goawayPayload(3, 11, 'slow down')),
      frame(RST_STREAM, 0, 5, u32(0x99)),
    ))).toEqual([
      'RST_STREAM stream=1 length=4 error=CANCEL',
      'PING stream=0 length=8 flags=ACK',
      'DATA stream=3 length=7 flags=PADDED,0x40',
      '<bytes "abc">',
      'GOAWAY stream=0 length=17 last_stream=3 error=ENHANCE_YOUR_CALM debug="slow down"',
      'RST_STREAM stream=5 length=4 error=0x99',
    ]);
  });

  it('joined mid-way: static and literal fields decoded, a dynamic entry never seen shown as unknown, entries seen since known', () => {
    const d = openHttp2Dissector();
    const block = headersBlock([
      { index: STATIC.methodPost }, { index: 62 }, { name: 63, value: '/from-a-name-never-seen' },
      { name: ':authority', value: 'seen:1' },
    ]);
    expect(feed(d, 'req', frame(HEADERS, FLAG_END_HEADERS, 7, block))).toEqual([
      `HEADERS stream=7 length=${block.length} flags=END_HEADERS`,
      '  :method: POST',
      '  ?: ?  (unknown: dynamic table entry from before the capture or a loss)',
      '  ?: /from-a-name-never-seen  (unknown: dynamic table entry from before the capture or a loss)',
      '  :authority: seen:1',
    ]);
    const next = headersBlock([{ index: STATIC.methodGet }, { index: 62 }]);
    expect(feed(d, 'req', frame(HEADERS, FLAG_END_HEADERS, 9, next)).slice(1)).toEqual(['  :method: GET', '  :authority: seen:1']);
  });

  it('joined inside a header block: the CONTINUATION is named, not decoded', () => {
    const d = openHttp2Dissector();
    expect(feed(d, 'req', frame(CONTINUATION, FLAG_END_HEADERS, 1, headersBlock([{ index: STATIC.methodGet }])))).toEqual([
      'CONTINUATION stream=1 length=1 flags=END_HEADERS', '  (no header block open: the capture joined inside one)',
    ]);
  });

  it('shows the same frames and bytes whatever the reads the stream was split into', () => {
    const whole = concat(clientStart(), frame(DATA, FLAG_END_STREAM, 1, enc('request body')));
    const expected = [...CLIENT_LINES, 'DATA stream=1 length=12 flags=END_STREAM', '<bytes "request body">'];
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: whole.length - 1 }), { maxLength: 12 }), (cuts) => {
      const d = openHttp2Dissector();
      const at = [0, ...[...cuts].sort((a, b) => a - b), whole.length];
      const lines: string[] = [];
      for (let i = 0; i + 1 < at.length; i++) lines.push(...feed(d, 'req', whole.subarray(at[i], at[i + 1])));
      expect(joinData(lines.filter((l) => !/^\(\d+ bytes of a frame that continues/.test(l)))).toEqual(joinData(expected));
    }), { numRuns: 200 });
  });

  it('says which reads only continue a frame: the DATA bytes a later read carries, a frame that waits for more', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', clientStart());
    const data = frame(DATA, 0, 1, enc('0123456789'));
    expect(feed(d, 'req', data.subarray(0, 13))).toEqual(['DATA stream=1 length=10', '<bytes "0123">']);
    expect(feed(d, 'req', data.subarray(13))).toEqual(['DATA stream=1 continued: 6 bytes', '<bytes "456789">']);
    const ping = frame(PING, 0, 0, new Uint8Array(8));
    expect(feed(d, 'req', ping.subarray(0, 5))).toEqual(['(5 bytes of a frame that continues in a later read)']);
    expect(feed(d, 'req', ping.subarray(5))).toEqual(['PING stream=0 length=8']);
  });

  it('passes over DATA beyond the snaplen exactly and reads the next frame', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', clientStart());
    const big = frame(DATA, 0, 1, new Uint8Array(3000).fill(0x61));
    expect(feed(d, 'req', big.subarray(0, 20), big.length)).toEqual(['DATA stream=1 length=3000', `<bytes "${'a'.repeat(11)}">`]);
    expect(feed(d, 'req', frame(RST_STREAM, 0, 1, u32(8)))).toEqual(['RST_STREAM stream=1 length=4 error=CANCEL']);
  });

  it('after lost bytes, resyncs and shows the dynamic entries it lost as unknown', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', clientStart());
    expect(show(d.gap('req', 100))).toEqual(['(bytes lost: looking for the next frame; header state of this side unknown from here)']);
    const again = headersBlock([{ index: STATIC.methodGet }, { index: 62 }]);
    expect(feed(d, 'req', frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 3, again))).toEqual([
      `HEADERS stream=3 length=${again.length} flags=END_STREAM,END_HEADERS`,
      '  :method: GET', '  ?: ?  (unknown: dynamic table entry from before the capture or a loss)',
    ]);
  });

  it('bytes lost inside a header block: the block is named, not decoded', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', preface());
    const headers = frame(HEADERS, 0, 1, REQUEST_BLOCK.subarray(0, 7));
    expect(feed(d, 'req', headers, headers.length + 30)).toEqual([
      'HEADERS stream=1 length=7', '(bytes lost inside the header block of stream 1: not decoded)',
    ]);
  });

  it('a header block cut by the snaplen inside its first frame: the block is named, not decoded', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', preface());
    const headers = frame(HEADERS, FLAG_END_HEADERS, 1, REQUEST_BLOCK);
    expect(feed(d, 'req', headers.subarray(0, 12), headers.length)).toEqual(['(bytes lost inside the header block of stream 1: not decoded)']);
  });

  it('lets a peer use the larger HPACK table the other side announced, once that side acknowledged it', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', concat(preface(), frame(SETTINGS, 0, 0, settingsPayload([1, 8192]))));
    const block = headersBlock([{ sizeUpdate: 8192 }, { index: STATIC.status404 }]);
    const early = openHttp2Dissector();
    feed(early, 'req', concat(preface(), frame(SETTINGS, 0, 0, settingsPayload([1, 8192]))));
    expect(feed(early, 'resp', frame(HEADERS, FLAG_END_HEADERS, 1, block))[1]).toMatch(/^ {2}\(HPACK: .*size update/);
    feed(d, 'resp', frame(SETTINGS, FLAG_ACK, 0));
    expect(feed(d, 'resp', frame(HEADERS, FLAG_END_HEADERS, 1, block)).slice(1)).toEqual(['  :status: 404']);
  });

  it('names a malformed frame and what it skipped to find the next one', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', preface());
    const lines = feed(d, 'req', concat(frame(SETTINGS, 0, 1, new Uint8Array(6)), frame(PING, 0, 0, new Uint8Array(8))));
    expect(lines[0]).toBe('(invalid frame: connection frame on a stream)');
    expect(lines).toContain('(6 bytes skipped looking for the next frame boundary)');
    expect(lines.at(-1)).toBe('PING stream=0 length=8');
  });

  it('reports an HPACK error and goes on', () => {
    const d = openHttp2Dissector();
    feed(d, 'req', preface());
    const lines = feed(d, 'req', concat(frame(HEADERS, FLAG_END_HEADERS, 1, Uint8Array.of(0x80)), frame(PING, 0, 0, new Uint8Array(8))));
    expect(lines[1]).toMatch(/^ {2}\(HPACK: index 0 at byte 0; header state of this side unknown from here\)$/);
    expect(lines[2]).toBe('PING stream=0 length=8');
  });

  it('never throws on random or mutated bytes in either direction, cut short or followed by holes', () => {
    const valid = concat(clientStart(), serverReply());
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
        const m = valid.slice();
        m[i] = b;
        return m;
      }),
    );
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom<Direction>('req', 'resp'), input, fc.nat(500)), { maxLength: 8 }), (reads) => {
      const d = openHttp2Dissector();
      for (const [dir, bytes, extra] of reads) {
        const lines = d.data(dir, bytes, bytes.length + (extra % 3 === 0 ? extra : 0));
        for (const l of lines) expect(typeof l === 'string' ? l : '').not.toMatch(/^\(dissector failure/);
      }
      expect(show(d.gap('resp', 1 << 30)).join('\n')).not.toMatch(/dissector failure/);
    }), { numRuns: 300 });
  });
});

/** Adjacent byte lines joined, so a body split across reads compares with one read whole. */
function joinData(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (/^DATA stream=\d+ continued: /.test(l)) continue;
    const prev = out.at(-1);
    const m = /^<bytes "(.*)">$/.exec(l);
    const pm = prev === undefined ? null : /^<bytes "(.*)">$/.exec(prev);
    if (m !== null && pm !== null) out[out.length - 1] = `<bytes "${pm[1]}${m[1]}">`;
    else out.push(l);
  }
  return out;
}
