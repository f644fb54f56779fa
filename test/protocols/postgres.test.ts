/** PostgreSQL v3 parser: hand-built messages from the protocol docs, properties, real postgres + pgbench + psql. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/protocols/postgres/index.js';
import { tcpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  bytesEachWay, concat, countBy, enc, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run, runRecorded,
} from './support.js';
import type { Ev } from './support.js';
import { ensurePackages, PG_BIN, skipOrFail, startPostgres } from '../helpers/servers.js';
import type { Server } from '../helpers/servers.js';

/** A typed message: type byte, int32 length (including itself), payload. */
function msg(type: string, ...parts: (string | Uint8Array)[]): Uint8Array {
  const body = concat(...parts.map((p) => (typeof p === 'string' ? concat(enc(p), Uint8Array.of(0)) : p)));
  const len = body.length + 4;
  return concat(enc(type), Uint8Array.of(len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff), body);
}
const i16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);
const i32 = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);

function startup(user: string, db: string): Uint8Array {
  const body = concat(i32(196608), enc(`user\0${user}\0database\0${db}\0\0`));
  return concat(i32(body.length + 4), body);
}

const ready = msg('Z', enc('I'));
const conversation: Ev[] = [
  { dir: 'req', bytes: concat(i32(8), i32(80877103)), ts: 1n },
  { dir: 'resp', bytes: enc('N'), ts: 2n },
  { dir: 'req', bytes: startup('alice', 'shop'), ts: 3n },
  { dir: 'resp', bytes: concat(msg('R', i32(0)), msg('S', 'server_version', '15.0'), msg('K', i32(1), i32(2)), ready), ts: 4n },
  { dir: 'req', bytes: msg('Q', "SELECT * FROM users WHERE id = 42 AND name = 'bob'"), ts: 5n },
  { dir: 'resp', bytes: concat(msg('T', i16(0)), msg('D', i16(0)), msg('D', i16(0)), msg('C', 'SELECT 2'), ready), ts: 6n },
  { dir: 'req', bytes: concat(msg('P', 'ins', 'INSERT INTO t VALUES ($1, $2)', i16(0)), msg('B', '', 'ins', i16(0), i16(0), i16(0)),
    msg('E', '', i32(0)), msg('S')), ts: 7n },
  { dir: 'resp', bytes: concat(msg('1'), msg('2'), msg('C', 'INSERT 0 1'), ready), ts: 8n },
  { dir: 'req', bytes: concat(msg('B', '', 'ins', i16(0), i16(0), i16(0)), msg('E', '', i32(0)), msg('S'), msg('Q', 'SELECT 1/0')), ts: 9n },
  { dir: 'resp', bytes: concat(msg('2'), msg('C', 'INSERT 0 1'), ready), ts: 10n },
  { dir: 'resp', bytes: concat(msg('E', enc('SERROR\0C22012\0Mdivision by zero\0\0')), ready), ts: 11n },
  { dir: 'req', bytes: msg('X'), ts: 12n },
];

describe('postgres parser', () => {
  it('pairs startup, simple queries, extended batches and errors', () => {
    const records = run(postgres, conversation);
    expect(records.map((r) => [r.operation, r.resource, r.status, r.reply])).toEqual([
      ['SSLREQUEST', '', 'ok', 'paired'],
      ['STARTUP', 'shop', 'ok', 'paired'],
      ['SELECT', 'SELECT * FROM users WHERE id = ? AND name = ?', 'ok', 'paired'],
      ['INSERT', 'INSERT INTO t VALUES ($1, $2)', 'ok', 'paired'],
      ['INSERT', 'INSERT INTO t VALUES ($1, $2)', 'ok', 'paired'],
      ['SELECT', 'SELECT ? / ?', 'error', 'paired'],
      ['TERMINATE', '', '', 'none-expected'],
    ]);
    expect(records[2]?.fields['pgsql.rows']).toBe(2);
    expect(records[2]?.fields['pgsql.tag']).toBe('SELECT 2');
    expect(records[4]?.fields['pgsql.statement']).toBe('ins');
    expect(records[5]?.error).toBe('division by zero');
    expect(records[5]?.fields['pgsql.sqlstate']).toBe('22012');
    expect(records[2]?.reqBytes).toBe(conversation[4]?.bytes.length);
    expect(records[2]?.respBytes).toBe(conversation[5]?.bytes.length);
    expectDeclaredFields(records);
  });

  it('skips large rows beyond the snaplen', () => {
    const row = msg('D', i16(1), i32(20_000), enc('r'.repeat(20_000)));
    const events: Ev[] = [
      { dir: 'req', bytes: msg('Q', 'SELECT big FROM t'), ts: 1n },
      { dir: 'resp', bytes: concat(msg('T', i16(0)), row), ts: 2n },
      { dir: 'resp', bytes: row, ts: 3n },
      { dir: 'resp', bytes: row, ts: 4n },
      { dir: 'resp', bytes: concat(msg('C', 'SELECT 3'), ready), ts: 5n },
    ];
    const records = run(postgres, events, { snaplen: 4096 });
    expect(records).toEqual(run(postgres, events));
    expect(records.map((r) => [r.fields['pgsql.rows'], r.fields['pgsql.tag'], r.endTs])).toEqual([[3, 'SELECT 3', 5n]]);
  });

  it('still reports a response whose middle fell beyond the snaplen', () => {
    const row = msg('D', i16(1), i32(20_000), enc('r'.repeat(20_000)));
    const events: Ev[] = [
      { dir: 'req', bytes: msg('Q', 'SELECT big FROM t'), ts: 1n },
      { dir: 'resp', bytes: concat(msg('T', i16(0)), row, row, row, msg('C', 'SELECT 3'), ready), ts: 2n },
      { dir: 'req', bytes: msg('Q', 'SELECT 2'), ts: 3n },
      { dir: 'resp', bytes: concat(msg('C', 'SELECT 1'), ready), ts: 4n },
    ];
    const records = run(postgres, events, { snaplen: 4096 });
    expect(records.map((r) => [r.resource, r.status, r.reply, r.respBytes])).toEqual([
      ['SELECT big FROM t', 'ok', 'paired', events[1]!.bytes.length], ['SELECT ?', 'ok', 'paired', events[3]!.bytes.length]]);
  });

  it('detects a startup packet', () => {
    expect(postgres.detect(startup('u', 'd'), 'req')).toBeGreaterThan(0.9);
    expect(postgres.detect(enc('GET / HTTP/1.1\r\n'), 'req')).toBe(0);
  });

  it('gives the same records for any split of the stream', () => {
    expectSplitInvariance(postgres, conversation);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(postgres, conversation);
  });
});

const execFileP = promisify(execFile);

describe('postgres on a real server with pgbench and psql', () => {
  let skip: string | undefined;
  let server: Server | undefined;
  let relay: Relay | undefined;

  beforeAll(async () => {
    // initdb and pg_ctl run as the postgres user, which only root can switch to.
    skip = process.getuid?.() !== 0 ? skipOrFail('needs root to run PostgreSQL as user postgres') : ensurePackages('postgresql');
    if (skip !== undefined) return;
    server = await startPostgres();
    relay = await tcpRelay(server.port);
  });

  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  it('finds every statement of the transactions pgbench processed, in each query mode', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    for (const mode of ['simple', 'extended', 'prepared']) {
      const before = relay!.chunks.length;
      const out = (await execFileP(`${PG_BIN}/pgbench`, ['-h', '127.0.0.1', '-p', String(relay!.port), '-U', 'postgres',
        '-M', mode, '-t', '25', '-c', '2', 'postgres'], { timeout: 120_000 })).stdout;
      const processed = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
      expect(processed).toBe(50);
      const records = runRecorded(postgres, relay!.chunks.slice(before));
      const ops = countBy(records, (r) => r.operation);
      expect([ops.BEGIN, ops.UPDATE, ops.INSERT, ops.END]).toEqual([processed, 3 * processed, processed, processed]);
      // Prepared mode parses the script's 7 statements once per client.
      expect(ops.PREPARE).toBe(mode === 'prepared' ? 7 * 2 : undefined);
      const updates = new Set(records.filter((r) => r.operation === 'UPDATE').map((r) => r.resource));
      expect([...updates].sort()).toEqual(mode === 'simple'
        ? ['UPDATE pgbench_accounts SET abalance = abalance + ? WHERE aid = ?',
          'UPDATE pgbench_branches SET bbalance = bbalance + ? WHERE bid = ?',
          'UPDATE pgbench_tellers SET tbalance = tbalance + ? WHERE tid = ?']
        : ['UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
          'UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2',
          'UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2']);
      expect(records.every((r) => r.status === 'ok' || r.reply === 'none-expected')).toBe(true);
      const sent = bytesEachWay(relay!.chunks.slice(before));
      expect(records.reduce((n, r) => n + r.reqBytes, 0)).toBe(sent.req);
      expect(records.reduce((n, r) => n + r.respBytes, 0)).toBe(sent.resp);
      expectSameExchangesUnderSnaplen(postgres, relay!.chunks.slice(before));
      expectDeclaredFields(records);
    }
  });

  it('reports the error psql printed, after its SSL request', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    const before = relay!.chunks.length;
    const err = await execFileP('psql', ['-h', '127.0.0.1', '-p', String(relay!.port), '-U', 'postgres', '-c', 'SELECT 1/0', 'postgres'])
      .then(() => '', (e: { stderr: string }) => e.stderr);
    const records = runRecorded(postgres, relay!.chunks.slice(before));
    expect(records.map((r) => r.operation)).toEqual(['SSLREQUEST', 'STARTUP', 'SELECT', 'TERMINATE']);
    const failed = records[2]!;
    expect(err).toContain(`ERROR:  ${failed.error}`);
    expect([failed.status, failed.fields['pgsql.sqlstate'], failed.resource]).toEqual(['error', '22012', 'SELECT ? / ?']);
  });
});
