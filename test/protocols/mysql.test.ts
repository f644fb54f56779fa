/** MySQL/MariaDB parser: hand-built packets from the protocol docs, properties, real mariadbd + clients. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysql } from '../../src/protocols/mysql/index.js';
import { tcpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  bytesEachWay, concat, countBy, enc, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run, runRecorded,
} from './support.js';
import type { Ev } from './support.js';
import { ensurePackages, startMariadb } from '../helpers/servers.js';

const execFileP = promisify(execFile);

function packet(seq: number, ...parts: (Uint8Array | number[] | string)[]): Uint8Array {
  const body = concat(...parts.map((p) => (typeof p === 'string' ? enc(p) : Uint8Array.from(p))));
  return concat(Uint8Array.of(body.length & 0xff, (body.length >> 8) & 0xff, body.length >> 16, seq), body);
}
const u16 = (n: number): number[] => [n & 0xff, n >> 8];
const u32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
const lenStr = (s: string): Uint8Array => concat(Uint8Array.of(s.length), enc(s));

const PROTOCOL_41 = 0x200;
const SECURE = 0x8000;
const WITH_DB = 0x8;
const DEPRECATE_EOF = 0x1000000;

function greeting(caps: number): Uint8Array {
  return packet(0, [0x0a], '10.11.6-MariaDB\0', u32(9), 'abcdefgh', [0], u16(caps & 0xffff), [33], u16(2),
    u16(caps >>> 16), [21], new Array(10).fill(0), 'ijklmnopqrst\0', 'mysql_native_password\0');
}
function handshake(caps: number): Uint8Array {
  return packet(1, u32(caps), u32(1 << 24), [33], new Array(23).fill(0), 'app\0', [20], new Array(20).fill(7), 'shop\0');
}
const ok = (seq: number, affected = 0): Uint8Array => packet(seq, [0, affected, 0], u16(2), u16(0));
const eof = (seq: number): Uint8Array => packet(seq, [0xfe], u16(0), u16(2));
const okEof = (seq: number): Uint8Array => packet(seq, [0xfe, 0, 0], u16(2), u16(0));
const coldef = (seq: number, name: string): Uint8Array => packet(seq, lenStr('def'), lenStr('shop'), lenStr('t'), lenStr('t'),
  lenStr(name), lenStr(name), [0x0c], u16(33), u32(11), [3], u16(0), [0], [0, 0]);
const query = (sql: string): Uint8Array => packet(0, [0x03], sql);

/** A session; `deprecateEof` switches result sets to the OK-terminated form. */
function session(deprecateEof: boolean): Ev[] {
  const caps = PROTOCOL_41 | SECURE | WITH_DB | (deprecateEof ? DEPRECATE_EOF : 0);
  const end = deprecateEof ? okEof : eof;
  const defsEnd = (seq: number): Uint8Array[] => (deprecateEof ? [] : [eof(seq)]);
  const n = deprecateEof ? 0 : 1;
  const parts: [Ev['dir'], Uint8Array][] = [
    ['resp', greeting(caps)],
    ['req', handshake(caps)],
    ['resp', ok(2)],
    ['req', query('SELECT id FROM t WHERE x = 5')],
    ['resp', concat(packet(1, [1]), coldef(2, 'id'), ...defsEnd(3), packet(3 + n, lenStr('1')), packet(4 + n, lenStr('2')), end(5 + n))],
    ['req', packet(0, [0x16], 'SELECT * FROM t WHERE id = ?')],
    ['resp', concat(packet(1, [0], u32(7), u16(1), u16(1), [0], u16(0)), coldef(2, '?'), ...defsEnd(3), coldef(3 + n, 'id'), ...defsEnd(4 + n))],
    ['req', packet(0, [0x17], u32(7), [0], u32(1), [0], [1], [3, 0], u32(42))],
    ['resp', concat(packet(1, [1]), coldef(2, 'id'), ...defsEnd(3), packet(3 + n, [0, 0], u32(42)), end(4 + n))],
    ['req', query('INSERT INTO t VALUES (1), (2)')],
    ['resp', ok(1, 2)],
    ['req', query('SELEC bad')],
    ['resp', packet(1, [0xff], u16(1064), '#42000', 'You have an error in your SQL syntax')],
    ['req', concat(packet(0, [0x19], u32(7)), packet(0, [0x0e]))],
    ['resp', ok(1)],
    ['req', packet(0, [0x01])],
  ];
  return parts.map(([dir, bytes], i) => ({ dir, bytes, ts: BigInt(i + 1) }));
}

describe('mysql parser', () => {
  for (const deprecateEof of [false, true]) {
    it(`pairs handshake, queries, prepared statements and errors (${deprecateEof ? 'OK' : 'EOF'}-terminated result sets)`, () => {
      const records = run(mysql, session(deprecateEof));
      expect(records.map((r) => [r.operation, r.resource, r.status, r.reply])).toEqual([
        ['CONNECT', 'shop', 'ok', 'paired'],
        ['SELECT', 'SELECT id FROM t WHERE x = ?', 'ok', 'paired'],
        ['PREPARE', 'SELECT * FROM t WHERE id = ?', 'ok', 'paired'],
        ['SELECT', 'SELECT * FROM t WHERE id = ?', 'ok', 'paired'],
        ['INSERT', 'INSERT INTO t VALUES (?)', 'ok', 'paired'],
        ['SELEC', 'SELEC bad', 'error', 'paired'],
        ['STMT_CLOSE', 'SELECT * FROM t WHERE id = ?', '', 'none-expected'],
        ['PING', '', 'ok', 'paired'],
        ['QUIT', '', '', 'none-expected'],
      ]);
      expect(records.map((r) => r.fields['mysql.rows'] ?? null)).toEqual([0, 2, 0, 1, 0, 0, null, 0, null]);
      expect(records[3]?.fields['mysql.command']).toBe('STMT_EXECUTE');
      expect(records[4]?.fields['mysql.affected_rows']).toBe(2);
      expect([records[5]?.error, records[5]?.fields['mysql.error_code'], records[5]?.fields['mysql.sqlstate']])
        .toEqual(['You have an error in your SQL syntax', 1064, '42000']);
      expect(records[0]?.fields['mysql.user']).toBe('app');
      expectDeclaredFields(records);
    });
  }

  it('detects the server greeting', () => {
    expect(mysql.detect(greeting(PROTOCOL_41), 'resp')).toBeGreaterThan(0.8);
    expect(mysql.detect(enc('HTTP/1.1 200 OK\r\n'), 'resp')).toBe(0);
  });

  it('gives the same records for any split of the stream', () => {
    expectSplitInvariance(mysql, session(false));
    expectSplitInvariance(mysql, session(true), 100);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(mysql, session(true));
  });
});

describe('mysql on a real MariaDB with the mariadb client, mariadb-slap and mysql2', () => {
  let skip: string | undefined;
  let server: Awaited<ReturnType<typeof startMariadb>> | undefined;
  let relay: Relay | undefined;
  const status = async (): Promise<Record<string, number>> => {
    const out = await server!.admin("SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select','Com_insert','Com_stmt_prepare','Com_stmt_execute','Questions')");
    return Object.fromEntries(out.trim().split('\n').map((l) => { const [k, v] = l.split('\t'); return [k, Number(v)]; }));
  };

  beforeAll(async () => {
    skip = ensurePackages('mariadb-server', 'mariadb-client');
    if (skip !== undefined) return;
    server = await startMariadb();
    relay = await tcpRelay(server.port);
  });

  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  it('counts the statements the server executed and reports the error the client printed', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    const port = String(relay!.port);
    const before = await status();
    const cli = ['-h127.0.0.1', `-P${port}`, '-ukcap', '-pkcap'];
    await execFileP('mariadb', [...cli, '-e', "INSERT INTO d.t VALUES (1,'a'),(2,'b'); SELECT * FROM d.t WHERE id = 1; SELECT v FROM d.t"]);
    const err = await execFileP('mariadb', [...cli, '-e', 'SELECT * FROM d.nonexistent']).then(() => '', (e: { stderr: string }) => e.stderr);
    await execFileP('mariadb-slap', [...cli, '--concurrency=2', '--iterations=1', '--number-of-queries=40', '--auto-generate-sql',
      '--auto-generate-sql-load-type=mixed'], { timeout: 120_000 });
    const conn = await createConnection({ host: '127.0.0.1', port: relay!.port, user: 'kcap', password: 'kcap', database: 'd' });
    for (let i = 0; i < 5; i++) {
      await conn.execute('INSERT INTO t VALUES (?, ?)', [100 + i, `x${i}`]);
      await conn.execute('SELECT v FROM t WHERE id = ?', [100 + i]);
    }
    await conn.end();
    const after = await status();
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);

    const records = runRecorded(mysql, relay!.chunks);
    const commands = countBy(records, (r) => String(r.fields['mysql.command']));
    expect(commands.STMT_PREPARE).toBe(delta('Com_stmt_prepare'));
    expect(commands.STMT_EXECUTE).toBe(delta('Com_stmt_execute'));
    expect(commands.STMT_EXECUTE).toBe(10);
    // The server counts every command after the handshake as a question (COM_QUIT included).
    expect(records.filter((r) => r.operation !== 'CONNECT').length).toBe(delta('Questions'));
    const executedOps = countBy(records.filter((r) => r.fields['mysql.command'] !== 'STMT_PREPARE'), (r) => r.operation);
    expect(executedOps.INSERT).toBe(delta('Com_insert'));
    expect(executedOps.SELECT).toBe(delta('Com_select'));
    const failed = records.filter((r) => r.status === 'error');
    expect(failed.length).toBe(1);
    expect(err).toContain(`ERROR ${failed[0]!.fields['mysql.error_code']} (${failed[0]!.fields['mysql.sqlstate']})`);
    expect(err).toContain(failed[0]!.error);
    expect(records.filter((r) => r.operation === 'CONNECT').every((r) => r.status === 'ok')).toBe(true);
    expect(records.every((r) => r.reply !== 'missing')).toBe(true);
    const sent = bytesEachWay(relay!.chunks);
    expect(records.reduce((n, r) => n + r.reqBytes, 0)).toBe(sent.req);
    expectSameExchangesUnderSnaplen(mysql, relay!.chunks);
    expectDeclaredFields(records);
  });
});
