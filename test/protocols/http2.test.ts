import { describe, expect, it } from 'vitest';
import { grpc, http2 } from '../../src/protocols/http2/index.js';
import { INCOMPLETE_END, INCOMPLETE_HEADERS } from '../../src/protocols/http2/pair.js';
import { SETTINGS_HEADER_TABLE_SIZE } from '../../src/protocols/http2/types.js';
import type { L7Record, ParserStats } from '../../src/protocols/types.js';
import {
  data, goaway, grpcMessage, headers, HpackEncoder, hpackInt, PREFACE, rst, settings, settingsAck,
} from './http2-build.js';
import { concat, enc, expectDeclaredFields, expectRobust, expectSplitInvariance, run } from './support.js';
import type { Ev } from './support.js';

type Fields = readonly (readonly [string, string])[];

const get = (path: string, authority = 'localhost'): Fields =>
  [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority], ['user-agent', 'h2load nghttp2/1.52.0']];
const ok = (type = 'text/html'): Fields => [[':status', '200'], ['content-type', type], ['server', 'nginx']];
const grpcRequest = (method: string): Fields => [
  [':method', 'POST'], [':scheme', 'http'], [':path', `/kcap.test.Echo/${method}`], [':authority', '127.0.0.1:50051'],
  ['content-type', 'application/grpc'], ['te', 'trailers'],
];
const grpcTrailers = (status: number, message?: string): Fields =>
  [['grpc-status', String(status)], ...(message === undefined ? [] : [['grpc-message', message] as const])];

/** One connection's two encoders and its events, timestamps 1, 2, 3, … in the order added. */
class Conversation {
  readonly events: Ev[] = [];
  readonly client = new HpackEncoder();
  readonly server = new HpackEncoder();

  constructor(preface = true) {
    if (preface) this.req(PREFACE, settings([0x3, 100])).resp(settings([0x3, 128]), settingsAck()).req(settingsAck());
  }

  req(...parts: Uint8Array[]): this {
    this.events.push({ dir: 'req', bytes: concat(...parts), ts: BigInt(this.events.length + 1) });
    return this;
  }

  resp(...parts: Uint8Array[]): this {
    this.events.push({ dir: 'resp', bytes: concat(...parts), ts: BigInt(this.events.length + 1) });
    return this;
  }

  ask(stream: number, fields: Fields, end = true): Uint8Array {
    return headers(stream, this.client.encode(fields), end);
  }

  answer(stream: number, fields: Fields, end = false): Uint8Array {
    return headers(stream, this.server.encode(fields), end);
  }
}

/** Records and stats of one connection fed `events`, flushed at the end. */
function feed(events: readonly Ev[]): { records: L7Record[]; stats: ParserStats } {
  const p = http2.open();
  const records = events.flatMap((e) => [...p.data(e.dir, e.bytes, e.ts)]);
  records.push(...p.end());
  return { records, stats: p.stats };
}

const summary = (r: L7Record): string => `${r.protocol} ${r.operation} ${r.resource} ${r.status} ${r.reply} ${r.error}`.trimEnd();

describe('http2 streams', () => {
  /** Three streams in flight, answered out of order, one response split by CONTINUATION. */
  function concurrent(): Conversation {
    const c = new Conversation();
    c.req(c.ask(1, get('/a?x=1')), c.ask(3, get('/b')), c.ask(5, get('/missing')));
    c.resp(c.answer(3, ok()), data(3, enc('bee'), true));
    c.resp(headers(5, c.server.encode([[':status', '404'], ['content-type', 'text/html']]), false, 3), data(5, enc('no'), true));
    c.resp(c.answer(1, ok()), data(1, enc('aaaa')));
    c.resp(data(1, enc('aa'), true));
    return c;
  }

  it('makes one record per stream, paired by stream id, in the order they end', () => {
    const records = run(http2, concurrent().events);
    expect(records.map(summary)).toEqual([
      'http2 GET /b 200 paired', 'http2 GET /missing 404 paired 404', 'http2 GET /a 200 paired',
    ]);
    const a = records[2]!;
    expect(a.fields).toEqual({
      'http2.method': 'GET', 'http2.path': '/a', 'http2.authority': 'localhost', 'http2.status': 200,
      'http2.stream_id': 1, 'http2.content_type': 'text/html',
    });
    // First request HEADERS (event 4) to the response's END_STREAM (event 8).
    expect([a.startTs, a.endTs, a.latencyNs]).toEqual([4n, 8n, 4n]);
    expect(a.incomplete).toBeUndefined();
    expectDeclaredFields(records);
  });

  it('counts each stream\'s own frames as its bytes', () => {
    const c = new Conversation();
    const request = c.ask(1, get('/'), false);
    const body = data(1, enc('hello'), true);
    const response = c.answer(1, ok());
    const bodyOut = data(1, enc('world!'), true);
    c.req(request, body).resp(response, bodyOut);
    const [r] = run(http2, c.events);
    expect([r!.reqBytes, r!.respBytes]).toEqual([request.length + body.length, response.length + bodyOut.length]);
  });

  it('gives the same records however the bytes are cut into reads', () => {
    expectSplitInvariance(http2, concurrent().events);
  });

  it('skips an interim 1xx response and takes the final one', () => {
    const c = new Conversation();
    c.req(c.ask(1, [[':method', 'POST'], [':scheme', 'http'], [':path', '/up'], [':authority', 'h']], false));
    c.resp(c.answer(1, [[':status', '100']]));
    c.req(data(1, enc('body'), true)).resp(c.answer(1, [[':status', '201']], true));
    expect(run(http2, c.events).map(summary)).toEqual(['http2 POST /up 201 paired']);
  });

  it('closes a reset stream without a response, naming the error, and ignores its late frames', () => {
    const c = new Conversation();
    c.req(c.ask(1, get('/slow')), c.ask(3, get('/fast')));
    c.req(rst(1, 0x8));
    c.resp(c.answer(1, ok(), true), c.answer(3, ok(), true));
    const { records, stats } = feed(c.events);
    expect(records.map(summary)).toEqual(['http2 GET /slow  missing RST_STREAM CANCEL', 'http2 GET /fast 200 paired']);
    expect(stats.unmatchedResponses).toBe(0);
  });

  it('ends the streams a GOAWAY says were not processed, and lets the others finish', () => {
    const c = new Conversation();
    c.req(c.ask(1, get('/1')), c.ask(3, get('/3')), c.ask(5, get('/5')), c.ask(7, get('/7')));
    c.resp(goaway(3, 0));
    c.resp(c.answer(3, ok(), true), c.answer(1, ok(), true));
    expect(run(http2, c.events).map(summary)).toEqual([
      'http2 GET /5  missing GOAWAY NO_ERROR', 'http2 GET /7  missing GOAWAY NO_ERROR',
      'http2 GET /3 200 paired', 'http2 GET /1 200 paired',
    ]);
  });

  it('reports streams still open at the end as missing', () => {
    const c = new Conversation();
    c.req(c.ask(1, get('/never')));
    const [r] = run(http2, c.events);
    expect(summary(r!)).toBe('http2 GET /never  missing');
  });

  /** A download whose later frame headers fall beyond the snaplen of one big read, as curl's do. */
  function download(endSeen: boolean): Ev[] {
    const c = new Conversation();
    c.req(c.ask(1, get('/big.txt'))).resp(c.answer(1, ok()));
    const body = new Uint8Array(100);
    c.resp(data(1, body), data(1, body), ...(endSeen ? [] : [data(1, body, true)]));
    if (endSeen) c.resp(data(1, body, true));
    return c.events;
  }

  it('keeps a response whose END_STREAM was lost beyond the snaplen, answered, its end marked unknown', () => {
    const events = download(false);
    const [r] = run(http2, events, { snaplen: 120 });
    expect(summary(r!)).toBe('http2 GET /big.txt 200 paired');
    expect(r!.incomplete).toBe(INCOMPLETE_END);
    // It ended, at the latest, with the read that lost it.
    expect(r!.endTs).toBe(events.at(-1)!.ts);
    expect(run(http2, events)[0]!.incomplete).toBeUndefined();
  });

  it('marks nothing when the END_STREAM after such a loss is seen', () => {
    const [r] = run(http2, download(true), { snaplen: 120 });
    expect(summary(r!)).toBe('http2 GET /big.txt 200 paired');
    expect(r!.incomplete).toBeUndefined();
  });

  it('opens the stream of a HEADERS frame cut by lost bytes, its headers unknown rather than dropped', () => {
    const c = new Conversation();
    const big: Fields = [...get('/cut'), ['cookie', 'c'.repeat(300)]];
    c.req(c.ask(1, big)).resp(c.answer(1, ok(), true));
    c.req(c.ask(3, get('/next'))).resp(c.answer(3, ok(), true));
    const records = run(http2, c.events, { snaplen: 60 });
    // The next request's :authority is an entry the lost block inserted: unknown too, and said so.
    expect(records.map((r) => `${summary(r)} | ${r.incomplete ?? ''}`)).toEqual([
      `http2   200 paired | ${INCOMPLETE_HEADERS}`, `http2 GET /next 200 paired | ${INCOMPLETE_HEADERS}`,
    ]);
  });

  it('counts a response to a stream begun before the capture as unmatched, once', () => {
    const c = new Conversation(false);
    c.resp(c.answer(1, ok()), data(1, enc('x')), data(1, enc('y'), true));
    c.req(c.ask(3, get('/seen'))).resp(c.answer(3, ok(), true));
    const { records, stats } = feed(c.events);
    expect(records.map(summary)).toEqual(['http2 GET /seen 200 paired']);
    expect(stats.unmatchedResponses).toBe(1);
  });

  it('applies a table size the peer acknowledged to the decoder of its blocks', () => {
    // The client allows the server's encoder 8192 octets, more than the default a size update may ask.
    const c = new Conversation(false);
    const server = new HpackEncoder(8192);
    c.req(PREFACE, settings([SETTINGS_HEADER_TABLE_SIZE, 8192])).resp(settings(), settingsAck());
    c.req(c.ask(1, get('/one'))).resp(headers(1, Uint8Array.of(...hpackInt(8192, 5, 0x20), ...server.encode(ok())), true));
    c.req(c.ask(3, get('/two'))).resp(headers(3, server.encode(ok()), true));
    const records = run(http2, c.events);
    expect(records.map(summary)).toEqual(['http2 GET /one 200 paired', 'http2 GET /two 200 paired']);
    expect(records.map((r) => r.fields['http2.content_type'])).toEqual(['text/html', 'text/html']);
    expect(records.map((r) => r.incomplete)).toEqual([undefined, undefined]);
  });

  it('never throws on garbage around a valid conversation', () => {
    expectRobust(http2, concurrent().events);
  });
});

describe('http2 joined mid-way', () => {
  /** h2load-like: the same few paths again and again, each request indexed after its first use. */
  function longLived(requests: number): { c: Conversation; joinAt: number; paths: string[] } {
    const c = new Conversation();
    const paths = ['/index.html', '/a', '/b'];
    let joinAt = 0;
    for (let i = 0; i < requests; i++) {
      const id = 2 * i + 1;
      if (i === requests / 2) joinAt = c.events.length;
      c.req(c.ask(id, get(paths[i % paths.length]!)));
      c.resp(c.answer(id, ok()), data(id, enc('body'), true));
    }
    return { c, joinAt, paths };
  }

  it('keeps what the static table and literals tell, marks the rest unknown, invents nothing', () => {
    const { c, joinAt, paths } = longLived(12);
    const records = run(http2, c.events.slice(joinAt));
    expect(records).toHaveLength(6);
    for (const r of records) {
      expect(r.operation).toBe('GET'); // static entry 2
      expect(r.status).toBe('200'); // static entry 8
      expect(['', ...paths]).toContain(r.resource);
    }
    // '/index.html' is static entry 5: known; '/a' and '/b' were indexed before the join.
    expect(records.filter((r) => r.resource === '/index.html')).toHaveLength(2);
    const unknown = records.filter((r) => r.incomplete === INCOMPLETE_HEADERS);
    expect(unknown).toHaveLength(6); // every block also refers to the indexed authority and user-agent
    expect(records.filter((r) => r.resource === '')).toHaveLength(4);
  });

  it('learns entries inserted after the join', () => {
    const c = new Conversation();
    c.req(c.ask(1, get('/old')));
    c.resp(c.answer(1, ok(), true));
    const join = c.events.length;
    c.req(c.ask(3, get('/new', 'fresh.example')));
    c.resp(c.answer(3, ok(), true));
    c.req(c.ask(5, get('/new', 'fresh.example')));
    c.resp(c.answer(5, ok(), true));
    const records = run(http2, c.events.slice(join));
    // Both requests need the user-agent indexed before the join; the path the first inserted is known to the second.
    expect(records.map((r) => r.resource)).toEqual(['/new', '/new']);
    expect(records.map((r) => r.fields['http2.authority'])).toEqual(['fresh.example', 'fresh.example']);
  });

  it('forgets the tables after lost bytes rather than misreading later blocks', () => {
    const c = new Conversation();
    c.req(c.ask(1, get('/a'))).resp(c.answer(1, ok(), true));
    c.req(c.ask(3, get('/b'))).resp(c.answer(3, ok(), true));
    c.req(c.ask(5, get('/a'))).resp(c.answer(5, ok(), true));
    const lost = c.events.findIndex((e, i) => i > 4 && e.dir === 'req');
    const p = http2.open();
    const records: L7Record[] = [];
    c.events.forEach((e, i) => {
      if (i === lost) records.push(...p.gap('req', e.bytes.length, e.ts));
      else records.push(...p.data(e.dir, e.bytes, e.ts));
    });
    records.push(...p.end());
    // /b's request was lost with the entry it inserted: the later /a refers past it, so is unknown.
    expect(records.map((r) => r.resource)).toEqual(['/a', '']);
    expect(records.map((r) => r.incomplete)).toEqual([undefined, INCOMPLETE_HEADERS]);
  });
});

describe('grpc calls', () => {
  it('names the call, counts messages each way and takes the status from the trailers', () => {
    const c = new Conversation();
    c.req(c.ask(1, grpcRequest('Bidi'), false));
    const three = concat(grpcMessage(enc('one')), grpcMessage(enc('two')), grpcMessage(enc('three')));
    c.req(data(1, three.subarray(0, 7)), data(1, three.subarray(7)));
    c.resp(c.answer(1, [[':status', '200'], ['content-type', 'application/grpc']]), data(1, concat(grpcMessage(enc('a')), grpcMessage(enc('b'), true))));
    c.req(data(1, new Uint8Array(0), true));
    c.resp(c.answer(1, grpcTrailers(5, 'no%20such%20key%3A%20%E2%9C%93'), true));
    const [r] = run(grpc, c.events);
    expect(summary(r!)).toBe('grpc kcap.test.Echo/Bidi  NOT_FOUND paired no such key: ✓');
    expect(r!.fields).toMatchObject({
      'grpc.service': 'kcap.test.Echo', 'grpc.method': 'Bidi', 'grpc.status': 'NOT_FOUND', 'grpc.message': 'no such key: ✓',
      'grpc.messages_in': 3, 'grpc.messages_out': 2, 'grpc.compressed': true, 'http2.status': 200, 'http2.path': '/kcap.test.Echo/Bidi',
    });
    expectDeclaredFields([r!]);
  });

  it('tells unary and streaming calls apart by their message counts, OK is no error', () => {
    const c = new Conversation();
    c.req(c.ask(1, grpcRequest('Unary'), false), data(1, grpcMessage(enc('x')), true));
    c.req(c.ask(3, grpcRequest('ServerStream'), false), data(3, grpcMessage(enc('x')), true));
    c.resp(c.answer(1, [[':status', '200'], ['content-type', 'application/grpc']]), data(1, grpcMessage(enc('y'))), c.answer(1, grpcTrailers(0), true));
    c.resp(c.answer(3, [[':status', '200'], ['content-type', 'application/grpc']]));
    c.resp(data(3, concat(...[1, 2, 3, 4].map((i) => grpcMessage(enc(`m${i}`))))), c.answer(3, grpcTrailers(0), true));
    const records = run(grpc, c.events);
    expect(records.map(summary)).toEqual(['grpc kcap.test.Echo/Unary  OK paired', 'grpc kcap.test.Echo/ServerStream  OK paired']);
    expect(records.map((r) => [r.fields['grpc.messages_in'], r.fields['grpc.messages_out']])).toEqual([[1, 1], [1, 4]]);
  });

  it('takes the status from a trailers-only response, and from the HTTP status without one', () => {
    const c = new Conversation();
    c.req(c.ask(1, grpcRequest('Unary'), false), data(1, grpcMessage(enc('x')), true));
    c.resp(c.answer(1, [[':status', '200'], ['content-type', 'application/grpc'], ...grpcTrailers(14, 'backend down')], true));
    c.req(c.ask(3, grpcRequest('Unary'), false), data(3, grpcMessage(enc('x')), true));
    c.resp(c.answer(3, [[':status', '503']], true));
    expect(run(grpc, c.events).map(summary)).toEqual([
      'grpc kcap.test.Echo/Unary  UNAVAILABLE paired backend down', 'grpc kcap.test.Echo/Unary  UNAVAILABLE paired UNAVAILABLE',
    ]);
  });

  it('leaves a message count out when bytes of the call were lost', () => {
    const c = new Conversation();
    c.req(c.ask(1, grpcRequest('ClientStream'), false), data(1, grpcMessage(enc('x'))));
    const p = http2.open();
    const out: L7Record[] = [];
    for (const e of c.events) out.push(...p.data(e.dir, e.bytes, e.ts));
    out.push(...p.gap('req', 100, 99n));
    out.push(...p.data('resp', concat(c.answer(1, [[':status', '200'], ['content-type', 'application/grpc']]), data(1, grpcMessage(enc('y'))), c.answer(1, grpcTrailers(0), true)), 100n));
    expect(out).toHaveLength(1);
    expect(out[0]!.fields['grpc.messages_in']).toBeUndefined();
    expect(out[0]!.fields['grpc.messages_out']).toBe(1);
  });

  it('gives the same records however a streaming call\'s bytes are cut', () => {
    const c = new Conversation();
    c.req(c.ask(1, grpcRequest('ClientStream'), false), data(1, concat(grpcMessage(enc('a'.repeat(40))), grpcMessage(enc('b')))), data(1, grpcMessage(enc('c')), true));
    c.resp(c.answer(1, [[':status', '200'], ['content-type', 'application/grpc']]), data(1, grpcMessage(enc('ok'))), c.answer(1, grpcTrailers(3, 'bad'), true));
    expectSplitInvariance(grpc, c.events);
  });
});
