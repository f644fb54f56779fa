/** memcached text protocol parser: hand-built streams from protocol.txt, properties, real memcached + memcslap. */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memcached } from '../../src/protocols/memcached/index.js';
import { tcpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  bytesEachWay, countBy, enc, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run, runRecorded, transcript,
} from './support.js';
import { client, ensurePackages, startMemcached } from '../helpers/servers.js';
import type { Server } from '../helpers/servers.js';

const conversation = transcript(
  ['req', 'set k1 0 0 5\r\nhello\r\nget k1 k2\r\nincr n 1\r\n'],
  ['resp', 'STORED\r\nVALUE k1 0 5\r\nhello\r\nEND\r\nNOT_FOUND\r\n'],
  ['req', 'set k2 0 0 2 noreply\r\nab\r\ndelete k9\r\nbogus\r\nmg k1 v\r\n'],
  ['resp', 'NOT_FOUND\r\nERROR\r\nVA 5\r\nhello\r\n'],
  ['req', 'stats\r\n'],
  ['resp', 'STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n'],
);

describe('memcached parser', () => {
  it('pairs storage, retrieval, arithmetic, meta and noreply commands', () => {
    const records = run(memcached, conversation);
    expect(records.map((r) => [r.operation, r.resource, r.status, r.reply])).toEqual([
      ['SET', 'k1', 'stored', 'paired'], ['GET', 'k1', 'hit', 'paired'], ['INCR', 'n', 'not_found', 'paired'],
      ['SET', 'k2', '', 'none-expected'], ['DELETE', 'k9', 'not_found', 'paired'], ['BOGUS', '', 'error', 'paired'],
      ['MG', 'k1', 'hit', 'paired'],
      ['STATS', '', 'end', 'paired'],
    ]);
    expect(records[1]?.fields['memcache.keys']).toBe(2);
    expect(records[1]?.fields['memcache.hits']).toBe(1);
    expect(records[1]?.respBytes).toBe('VALUE k1 0 5\r\nhello\r\nEND\r\n'.length);
    expect(records[0]?.reqBytes).toBe('set k1 0 0 5\r\nhello\r\n'.length);
    expectDeclaredFields(records);
  });

  it('skips a large value beyond the snaplen', () => {
    const big = 'z'.repeat(30_000);
    const events = transcript(['req', `set big 0 0 ${big.length}\r\n${big}\r\n`], ['resp', 'STORED\r\n'],
      ['req', 'get big\r\n'], ['resp', `VALUE big 0 ${big.length}\r\n${big}\r\nEND\r\n`]);
    expect(run(memcached, events, { snaplen: 4096 })).toEqual(run(memcached, events));
  });

  it('detects commands from their first bytes', () => {
    expect(memcached.detect(enc('get foo\r\n'), 'req')).toBeGreaterThanOrEqual(0.5);
    expect(memcached.detect(enc('GET / HTTP/1.1\r\n'), 'req')).toBe(0);
  });

  it('gives the same records for any split of the stream', () => {
    expectSplitInvariance(memcached, conversation);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(memcached, conversation);
  });
});

/** The server's own counters, asked directly (not through the relay). */
async function serverStats(port: number): Promise<Record<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    let acc = '';
    const s = connect({ host: '127.0.0.1', port }, () => s.write('stats\r\n'));
    s.on('data', (b) => {
      acc += b.toString('latin1');
      if (acc.endsWith('END\r\n')) { s.end(); resolve(acc); }
    });
    s.on('error', reject);
  });
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^STAT (\w+) (\d+)\r$/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

describe('memcached on a real memcached and memcslap', () => {
  let skip: string | undefined;
  let server: Server | undefined;
  let relay: Relay | undefined;

  beforeAll(async () => {
    skip = ensurePackages('memcached', 'libmemcached-tools');
    if (skip !== undefined) return;
    server = await startMemcached();
    relay = await tcpRelay(server.port);
  });

  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  it('counts the gets and sets the server executed, multi-get and noreply included', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    const servers = `127.0.0.1:${relay!.port}`;
    for (const test of ['set', 'get', 'mget']) await client('memcslap', ['-s', servers, '-t', test, '-e', '300', '-c', '2']);
    // -R: storage commands with noreply (memcslap's -B buffering aborts in libmemcached 1.1.4).
    await client('memcslap', ['-s', servers, '-t', 'set', '-e', '200', '-c', '1', '-R']);
    const stats = await serverStats(server!.port);
    const records = runRecorded(memcached, relay!.chunks);
    const ops = countBy(records, (r) => r.operation);
    expect(ops.SET).toBe(stats.cmd_set);
    const gets = records.filter((r) => r.operation === 'GET');
    expect(gets.reduce((n, r) => n + (r.fields['memcache.keys'] as number), 0)).toBe(stats.cmd_get);
    expect(gets.reduce((n, r) => n + (r.fields['memcache.hits'] as number), 0)).toBe(stats.get_hits);
    expect(records.filter((r) => r.reply === 'none-expected').length).toBeGreaterThan(0);
    expect(records.every((r) => r.reply !== 'missing' && r.status !== 'error')).toBe(true);
    const sent = bytesEachWay(relay!.chunks);
    expect(records.reduce((n, r) => n + r.reqBytes, 0)).toBe(sent.req);
    expect(records.reduce((n, r) => n + r.respBytes, 0)).toBe(sent.resp);
    expectSameExchangesUnderSnaplen(memcached, relay!.chunks);
    expectDeclaredFields(records);
  });
});
