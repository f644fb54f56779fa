/**
 * `kcap print -A` on HTTP/2 as a user runs it: a generated capture of a client and a server
 * talking h2c on loopback (and an HTTP/1 connection beside it), written to a real .kcap file,
 * printed by the CLI in a child process. Each write/read of the HTTP/2 connection shows its
 * frames and decoded headers instead of raw HPACK bytes; a filter that hides the first request
 * still leaves the second one's dynamic-table references decoded (the dissector follows every
 * event, not only the shown ones); HTTP/1 payloads print as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureWriter } from '../../src/capture/index.js';
import {
  DATA, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, HEADERS, SETTINGS,
} from '../../src/protocols/http2/types.js';
import { kcap } from '../helpers/cli.js';
import { CLOCK, CaptureBuilder, MACHINE, linesByEvent, sockaddrIn, tupleFields } from '../helpers/source.js';
import { STATIC, frame, headersBlock, preface, settingsPayload } from '../protocols/http2-build.js';
import { concat, enc } from '../protocols/support.js';

const H2_CLIENT = { ino: 7101, laddr: '127.0.0.1', lport: 40100, raddr: '127.0.0.1', rport: 8443 };
const H2_SERVER = { ino: 7102, laddr: '127.0.0.1', lport: 8443, raddr: '127.0.0.1', rport: 40100 };
const H1_CLIENT = { ino: 7201, laddr: '127.0.0.1', lport: 40200, raddr: '127.0.0.1', rport: 8080 };
const HTTP1 = 'GET /plain HTTP/1.1\r\nHost: x\r\n\r\n';

const FIRST = concat(
  preface(), frame(SETTINGS, 0, 0, settingsPayload([3, 100])),
  frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 1, headersBlock([
    { index: STATIC.methodGet }, { index: STATIC.schemeHttp },
    { name: STATIC.pathRoot, value: '/hello?x=1' }, { name: STATIC.authority, value: 'localhost:8443' },
  ])),
);
const REPLY = concat(
  frame(SETTINGS, 0, 0), frame(SETTINGS, FLAG_ACK, 0),
  frame(HEADERS, FLAG_END_HEADERS, 1, headersBlock([{ index: STATIC.status200 }, { name: STATIC.contentType, value: 'text/plain' }])),
  frame(DATA, FLAG_END_STREAM, 1, enc('hi there\n')),
);
/** The same path and authority again, by their dynamic table indexes only. */
const SECOND = frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 3, headersBlock([
  { index: STATIC.methodGet }, { index: STATIC.schemeHttp }, { index: 63 }, { index: 62 },
]));
/** A header value with a terminal escape in it: printed escaped, on its one line. */
const ODD = frame(HEADERS, FLAG_END_STREAM | FLAG_END_HEADERS, 5, headersBlock([
  { index: STATIC.methodGet }, { name: STATIC.pathRoot, value: '/x\x1b[2J\ny', indexing: 'without' },
]));

function buildCapture() {
  const b = new CaptureBuilder();
  b.thread(100, 100, 'h2server').thread(200, 200, 'h2client').thread(300, 300, 'curl');
  b.fd({ pid: 100, fd: 6, kind: 'ipv4', name: 'socket:[7000]', ino: 7000, l4proto: 'tcp', laddr: '127.0.0.1', lport: 8443, raddr: '0.0.0.0', rport: 0, state: 'LISTEN' });
  const io = (fd: number, bytes: Uint8Array, tuple: typeof H2_CLIENT) => ({ fields: { fd, res: bytes.length, latency: 1000, ...tupleFields(tuple) }, vars: { data: bytes } });
  const client = { pid: 200, tid: 200 };
  const server = { pid: 100, tid: 100 };
  b.add('connect', { ...client, fields: { fd: 5, res: 0, latency: 1000, ...tupleFields(H2_CLIENT) }, vars: { addr: sockaddrIn('127.0.0.1', 8443) } });
  b.add('accept4', { ...server, fields: { fd: 7, res: 7, latency: 1000, listen_fd: 6, ...tupleFields(H2_SERVER) } });
  const n = {
    first: b.add('write', { ...client, ...io(5, FIRST, H2_CLIENT) }),
    firstIn: b.add('read', { ...server, ...io(7, FIRST, H2_SERVER) }),
    reply: b.add('write', { ...server, ...io(7, REPLY, H2_SERVER) }),
    replyIn: b.add('read', { ...client, ...io(5, REPLY, H2_CLIENT) }),
    second: b.add('write', { ...client, ...io(5, SECOND, H2_CLIENT) }),
    odd: b.add('write', { ...client, ...io(5, ODD, H2_CLIENT) }),
    http1: b.add('write', { pid: 300, tid: 300, ...io(9, enc(HTTP1), H1_CLIENT) }),
  };
  return { b, n };
}

const { b: builder, n } = buildCapture();
let dir = '';
let file = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcap-print-h2-'));
  file = join(dir, 'h2.kcap');
  const w = CaptureWriter.create(file, { machine: MACHINE, clock: CLOCK, snaplen: 4096, tables: builder.tables, chunkSize: 512 });
  for await (const chunk of builder.source(3).chunks()) w.append(chunk.records);
  w.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kcap print -A on HTTP/2', () => {
  it('shows frames and decoded headers under each write and read, both ends alike', async () => {
    const r = await kcap(['print', '-A', '-q', file]);
    expect(r.code).toBe(0);
    const ev = linesByEvent(r.stdout);
    const request = [
      '  client preface PRI * HTTP/2.0',
      '  SETTINGS stream=0 length=6 MAX_CONCURRENT_STREAMS=100',
      expect.stringMatching(/^ {2}HEADERS stream=1 length=\d+ flags=END_STREAM,END_HEADERS$/),
      '    :method: GET', '    :scheme: http', '    :path: /hello?x=1', '    :authority: localhost:8443',
    ];
    expect(ev.get(n.first)).toEqual(request);
    expect(ev.get(n.firstIn)).toEqual(request);
    expect(ev.get(n.replyIn)).toEqual(ev.get(n.reply));
    expect(ev.get(n.reply)).toEqual([
      '  SETTINGS stream=0 length=0', '  SETTINGS stream=0 length=0 flags=ACK',
      expect.stringMatching(/^ {2}HEADERS stream=1 length=\d+ flags=END_HEADERS$/), '    :status: 200', '    content-type: text/plain',
      '  DATA stream=1 length=9 flags=END_STREAM', 'hi there', '',
    ]);
    expect(ev.get(n.second)).toEqual([
      expect.stringMatching(/^ {2}HEADERS stream=3 /), '    :method: GET', '    :scheme: http', '    :path: /hello?x=1', '    :authority: localhost:8443',
    ]);
    expect(ev.get(n.odd)?.slice(2)).toEqual(['    :path: /x\\x1b[2J\\x0ay']);
  });

  it('leaves other protocols as raw text', async () => {
    const r = await kcap(['print', '-A', '-q', file]);
    expect(linesByEvent(r.stdout).get(n.http1)).toEqual(['GET /plain HTTP/1.1.', 'Host: x.', '.', '', '']); // the last event: its payload's newline, then the event's
  });

  it('decodes what a filter shows from the connection as it was, hidden events included', async () => {
    const r = await kcap(['print', '-A', '-q', file, `evt.num = ${n.second}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^ {2}HEADERS stream=3 /), '    :method: GET', '    :scheme: http', '    :path: /hello?x=1', '    :authority: localhost:8443', '',
    ]);
  });

  it('without -A prints the usual short excerpt', async () => {
    const r = await kcap(['print', '-q', file, `evt.num = ${n.first}`]);
    expect(r.stdout).toMatch(/ data=PRI \* HTTP\/2\.0\.\.\.\.SM\.\.\.\./);
    expect(r.stdout).not.toContain(':path');
  });
});
