/** Redis RESP2/3 parser: hand-built streams from the RESP spec, properties, real redis-server traffic. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redis } from '../../src/protocols/redis/index.js';
import { tcpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  bytesEachWay, countBy, enc, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run, runRecorded, transcript,
} from './support.js';
import { client, ensurePackages, startRedis } from '../helpers/servers.js';
import type { Server } from '../helpers/servers.js';

const cmd = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${enc(a).length}\r\n${a}\r\n`).join('')}`;

const conversation = transcript(
  ['req', cmd('SET', 'user:1', 'alice') + cmd('GET', 'user:1') + cmd('INCR', 'user:1') + cmd('HGETALL', 'h')],
  ['resp', '+OK\r\n$5\r\nalice\r\n-ERR value is not an integer or out of range\r\n'],
  ['resp', '%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n$1\r\nx\r\n_\r\n'],
  ['req', 'PING\r\n' + cmd('SUBSCRIBE', 'c1', 'c2')],
  ['resp', '+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nc1\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nc2\r\n:2\r\n'],
  ['resp', '*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$2\r\nhi\r\n>2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n'],
  ['req', cmd('MGET', 'a', 'b')],
  ['resp', '|1\r\n+ttl\r\n:3\r\n*2\r\n$1\r\n1\r\n$-1\r\n'],
);

describe('redis parser', () => {
  it('pairs pipelined commands with replies of every RESP type', () => {
    const records = run(redis, conversation);
    expect(records.map((r) => [r.operation, r.resource, r.status])).toEqual([
      ['SET', 'user:1', 'ok'], ['GET', 'user:1', 'ok'], ['INCR', 'user:1', 'error'], ['HGETALL', 'h', 'ok'],
      ['PING', '', 'ok'], ['SUBSCRIBE', 'c1', 'ok'], ['MGET', 'a', 'ok'],
    ]);
    expect(records[2]?.error).toBe('ERR value is not an integer or out of range');
    expect(records.map((r) => r.fields['redis.reply_type'])).toEqual(['simple', 'bulk', 'error', 'map', 'simple', 'array', 'array']);
    expect(records[0]?.reqBytes).toBe(cmd('SET', 'user:1', 'alice').length);
    expect(records[1]?.respBytes).toBe('$5\r\nalice\r\n'.length);
    expect(records[6]?.respBytes).toBe('|1\r\n+ttl\r\n:3\r\n*2\r\n$1\r\n1\r\n$-1\r\n'.length);
    expectDeclaredFields(records);
  });

  it('skips a large value beyond the snaplen', () => {
    const big = 'v'.repeat(50_000);
    const reply = `$${big.length}\r\n${big}\r\n`;
    const events = transcript(['req', cmd('SET', 'k', big)], ['resp', '+OK\r\n'], ['req', cmd('GET', 'k')], ['resp', reply]);
    const records = run(redis, events, { snaplen: 4096 });
    expect(records).toEqual(run(redis, events));
    expect(records.map((r) => [r.operation, r.reqBytes, r.respBytes])).toEqual([
      ['SET', cmd('SET', 'k', big).length, 5], ['GET', cmd('GET', 'k').length, reply.length]]);
  });

  it('resyncs at the next command after a hole and reports the lost exchange missing', () => {
    const p = redis.open();
    const records = [
      ...p.data('req', enc(cmd('GET', 'a')), 1n),
      ...p.gap('resp', 10, 2n),
      ...p.data('resp', enc('lost tail\r\n'), 3n),
      ...p.data('req', enc(cmd('GET', 'b')), 4n),
      ...p.data('resp', enc('$1\r\nB\r\n'), 5n),
      ...p.end(),
    ];
    expect(records.map((r) => [r.resource, r.reply])).toEqual([['a', 'missing'], ['b', 'paired']]);
  });

  it('detects commands from their first bytes', () => {
    expect(redis.detect(enc(cmd('GET', 'k')), 'req')).toBeGreaterThan(0.7);
    expect(redis.detect(enc('GET / HTTP/1.1\r\n'), 'req')).toBe(0);
  });

  it('gives the same records for any split of the stream', () => {
    expectSplitInvariance(redis, conversation);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(redis, conversation);
  });
});

describe('redis on real redis-server, redis-benchmark and redis-cli', () => {
  let skip: string | undefined;
  let server: Server | undefined;
  let relay: Relay | undefined;

  beforeAll(async () => {
    skip = ensurePackages('redis-server', 'redis-tools');
    if (skip !== undefined) return;
    server = await startRedis();
    relay = await tcpRelay(server.port);
  });

  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  it('finds exactly the GETs and SETs the server executed, pipelined or not', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    const port = String(relay!.port);
    const n = 500;
    await client('redis-benchmark', ['-p', port, '-n', String(n), '-t', 'get,set', '-c', '4', '-q']);
    await client('redis-benchmark', ['-p', port, '-n', String(n), '-t', 'get,set', '-c', '2', '-P', '16', '-q']);
    await client('redis-cli', ['-p', port, 'SET', 'word', 'abc']);
    const incr = (await client('redis-cli', ['-p', port, 'INCR', 'word'])).trim();
    await client('redis-cli', ['-p', port, 'HSET', 'h', 'f1', 'v1', 'f2', 'v2']);
    const map = (await client('redis-cli', ['-3', '-p', port, 'HGETALL', 'h'])).trim().split('\n');
    // The server's own count (asked directly, not through the relay): with -P, redis-benchmark
    // sends whole pipelines and so a few more than -n.
    const stats = await client('redis-cli', ['-p', String(server!.port), 'INFO', 'commandstats']);
    const calls = (c: string): number => Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1]);
    const records = runRecorded(redis, relay!.chunks);
    const ops = countBy(records, (r) => r.operation);
    expect(calls('get')).toBeGreaterThanOrEqual(2 * n);
    expect(ops.SET).toBe(calls('set'));
    expect(ops.GET).toBe(calls('get'));
    const benchmark = records.filter((r) => (r.operation === 'GET' || r.operation === 'SET') && r.resource !== 'word');
    expect(benchmark.length).toBe(ops.GET! + ops.SET! - 1);
    expect(benchmark.every((r) => r.status === 'ok' && r.resource === 'key:__rand_int__')).toBe(true);
    const failed = records.filter((r) => r.status === 'error');
    expect(failed.map((r) => [r.operation, r.error])).toEqual([['INCR', incr.replace(/^\(error\) /, '')]]);
    const hgetall = records.find((r) => r.operation === 'HGETALL');
    expect(hgetall?.fields['redis.reply_type']).toBe('map');
    expect(map.length).toBe(2);
    expect(records.every((r) => r.reply === 'paired')).toBe(true);
    const sent = bytesEachWay(relay!.chunks);
    expect(records.reduce((s, r) => s + r.reqBytes, 0)).toBe(sent.req);
    expect(records.reduce((s, r) => s + r.respBytes, 0)).toBe(sent.resp);
    expectSameExchangesUnderSnaplen(redis, relay!.chunks);
    expectDeclaredFields(records);
  });
});
