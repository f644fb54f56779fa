/** HTTP/1.x parser: hand-built streams from RFC 9112, properties, and real nginx + curl traffic. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http1 } from '../../src/protocols/http1/index.js';
import { tcpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  bytesEachWay, enc, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run,
  runRecorded, transcript,
} from './support.js';
import { client, ensurePackages, startNginx } from '../helpers/servers.js';
import type { Server } from '../helpers/servers.js';

const pipelined = transcript(
  ['req', 'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello'
    + 'HEAD /c HTTP/1.1\r\nHost: h\r\n\r\nPUT /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
  ['resp', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n'],
  ['resp', 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'],
  ['resp', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'],
);

describe('http1 parser', () => {
  it('pairs pipelined requests with chunked, length, HEAD and interim responses', () => {
    const records = run(http1, pipelined);
    expect(records.map((r) => [r.operation, r.resource, r.status, r.reply])).toEqual([
      ['GET', '/a', '200', 'paired'],
      ['POST', '/b', '404', 'paired'],
      ['HEAD', '/c', '200', 'paired'],
      ['PUT', '/d', '204', 'paired'],
    ]);
    expect(records[1]?.error).toBe('Not Found');
    const reqLens = ['GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n', 'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello'];
    expect(records.slice(0, 2).map((r) => r.reqBytes)).toEqual(reqLens.map((s) => s.length));
    expect(records[0]?.respBytes).toBe(enc('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n').length);
    expect(records[3]?.respBytes).toBe('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'.length - 25);
    expect(records[3]?.endTs).toBe(4n);
    expectDeclaredFields(records);
  });

  it('skips a body beyond the snaplen and stamps the response with its last byte', () => {
    const body = 'x'.repeat(100_000);
    const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`;
    const events = transcript(['req', 'GET /big HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n'],
      ['resp', `${head}${body.slice(0, 50_000)}`],
      ['resp', body.slice(50_000)],
      ['resp', 'HTTP/1.1 304 Not Modified\r\n\r\n']);
    const full = run(http1, events);
    expect(run(http1, events, { snaplen: 4096 })).toEqual(full);
    expect(full.map((r) => [r.resource, r.status, r.endTs])).toEqual([['/big', '200', 3n], ['/next', '304', 4n]]);
    expect(full[0]?.respBytes).toBe(head.length + body.length);
  });

  it('ends a close-delimited response at the end of the stream', () => {
    const records = run(http1, transcript(['req', 'GET / HTTP/1.0\r\n\r\n'], ['resp', 'HTTP/1.0 200 OK\r\n\r\nabc'], ['resp', 'def']));
    expect(records.map((r) => [r.status, r.respBytes, r.endTs, r.reply])).toEqual([['200', 25, 3n, 'paired']]);
  });

  it('reports requests without responses as missing', () => {
    const records = run(http1, transcript(['req', 'GET /1 HTTP/1.1\r\n\r\nDELETE /2 HTTP/1.1\r\n\r\n'], ['resp', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']));
    expect(records.map((r) => [r.operation, r.reply, r.status])).toEqual([['GET', 'paired', '200'], ['DELETE', 'missing', '']]);
  });

  it('resyncs at the next request line after a hole', () => {
    const p = http1.open();
    p.data('req', enc('GET /lost HTTP/1.1\r\nHos'), 1n);
    p.gap('req', 100, 2n);
    p.data('req', enc('t: x\r\n\r\nGET /found HTTP/1.1\r\n\r\n'), 3n);
    const records = [...p.data('resp', enc('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 4n), ...p.end()];
    expect(records.map((r) => r.resource)).toEqual(['/found']);
    expect(p.stats.gaps).toBe(1);
  });

  it('detects requests and responses from their first bytes', () => {
    expect(http1.detect(enc('GET / HTTP/1.1\r\n'), 'req')).toBeGreaterThan(0.9);
    expect(http1.detect(enc('HTTP/1.1 200 OK\r\n'), 'resp')).toBeGreaterThan(0.8);
    expect(http1.detect(enc('*1\r\n$4\r\nPING\r\n'), 'req')).toBe(0);
    expect(http1.detect(enc('GETX / HTTP/1.1\r\n'), 'req')).toBe(0);
  });

  it('gives the same records for any split of the stream', () => {
    expectSplitInvariance(http1, pipelined);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(http1, pipelined);
  });
});

describe('http1 on real nginx and curl', () => {
  let skip: string | undefined;
  let nginx: Server | undefined;
  let relay: Relay | undefined;

  beforeAll(async () => {
    skip = ensurePackages('nginx', 'curl');
    if (skip !== undefined) return;
    nginx = await startNginx({ 'index.html': '<h1>kcap</h1>\n', 'big.txt': 'kcap '.repeat(40_000) });
    relay = await tcpRelay(nginx.port);
  });

  afterAll(async () => {
    await relay?.close();
    await nginx?.stop();
  });

  it('pairs every request curl made with the status curl saw', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    const base = `http://127.0.0.1:${relay!.port}`;
    const urls = [`${base}/index.html?q=1`, `${base}/missing`, `${base}/big.txt`, `${base}/`];
    // One connection, keep-alive: curl reuses it for every URL.
    const codes = (await client('curl', ['-s', '-w', '%{http_code}\\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])])).trim().split('\n');
    const gz = (await client('curl', ['-s', '--compressed', '-o', '/dev/null', '-w', '%{http_code}\\n', `${base}/big.txt`])).trim();
    const head = (await client('curl', ['-s', '-I', '-o', '/dev/null', '-w', '%{http_code}\\n', `${base}/big.txt`])).trim();
    const post = (await client('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}\\n', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'x'.repeat(20_000), `${base}/index.html`])).trim();
    const chunks = relay!.chunks;
    const records = runRecorded(http1, chunks);
    expect(records.map((r) => r.status)).toEqual([...codes, gz, head, post]);
    expect(records.map((r) => `${r.operation} ${r.resource}`)).toEqual([
      'GET /index.html', 'GET /missing', 'GET /big.txt', 'GET /', 'GET /big.txt', 'HEAD /big.txt', 'POST /index.html']);
    expect(records.every((r) => r.reply === 'paired' && r.latencyNs >= 0n)).toBe(true);
    const access = readFileSync(join(nginx!.dir, 'access.log'), 'utf8').trim().split('\n');
    expect(access.length).toBe(records.length);
    const sent = bytesEachWay(chunks);
    expect(records.reduce((n, r) => n + r.reqBytes, 0)).toBe(sent.req);
    expect(records.reduce((n, r) => n + r.respBytes, 0)).toBe(sent.resp);
    expectSameExchangesUnderSnaplen(http1, chunks);
    expectDeclaredFields(records);
  });
});
