/**
 * End to end on a real recording: MariaDB on loopback, the mariadb client and mariadb-slap run under
 * `kcap record`, then `kcap analyze --json`; statements, their errors and the number of queries
 * mariadb-slap says it ran must be what the report shows (protocol "mysql").
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, countByOperation, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startMariadb, tempDir, type Server } from '../helpers/servers.js';

/** Statements run by the mariadb client in one session; the last one fails (no such table). */
const STATEMENTS = [
  'create database e2e',
  'create table e2e.t (id int primary key, name varchar(20))',
  "insert into e2e.t values (1, 'one'), (2, 'two')",
  'select name from e2e.t where id = 2',
  'update e2e.t set name = \'uno\' where id = 1',
  'select count(*) from e2e.t',
  'select * from e2e.no_such_table',
];

describeBpf('e2e mariadb: mariadbd, mariadb and mariadb-slap recorded by kcap', () => {
  let server: Server | undefined;
  let work = '';
  const conn = (): string[] => ['-h127.0.0.1', `-P${server!.port}`, '-uroot'];

  beforeAll(async () => {
    const missing = ensurePackages('mariadb-server', 'mariadb-client');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-mariadb-cap');
    server = await startMariadb();
  });

  afterAll(async () => {
    await server?.stop();
    if (work !== '') removeDir(work);
  });

  it('reports each statement of a mariadb session, the failing one as an error', async () => {
    const file = join(work, 'client.kcap');
    const out = await recordCommand(file, ['sh', '-c', `mariadb ${conn().join(' ')} --batch -e "${STATEMENTS.join('; ').replace(/"/g, '\\"')}" 2>&1`],
      { okCodes: [1] });
    expect(out).toMatch(/ERROR 1146 \(42S02\)/);
    expect(out).toMatch(/^two$/m);
    const r = await analyzeJson(file);
    const mysql = r.endpoints.filter((e) => e.protocol === 'mysql');
    const queries = mysql.filter((e) => !['CONNECT', 'QUIT'].includes(e.operation));
    expect(queries.reduce((n, e) => n + e.count, 0)).toBe(STATEMENTS.length);
    const failed = queries.filter((e) => e.errors > 0);
    expect(failed.map((e) => [e.operation, e.resource, e.errors, e.statuses])).toEqual(
      [['SELECT', 'select * from e2e.no_such_table', 1, [{ status: 'error', count: 1 }]]]);
    expect(queries.filter((e) => e.errors === 0).every((e) => e.statuses.every((s) => s.status === 'ok'))).toBe(true);
    const sent: Record<string, number> = { CONNECT: 1, QUIT: 1 };
    for (const s of STATEMENTS) {
      const op = s.split(' ')[0]!.toUpperCase();
      sent[op] = (sent[op] ?? 0) + 1;
    }
    expect(countByOperation(r, 'mysql')).toEqual(sent);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
  });

  it('counts every query mariadb-slap says its clients ran', async () => {
    const file = join(work, 'slap.kcap');
    const query = 'select 1 + 1';
    const out = await recordCommand(file, ['mariadb-slap', ...conn(), '--create-schema=mysql', `--query=${query}`,
      '--concurrency=4', '--iterations=1', '--number-of-queries=400']);
    const clients = Number(/Number of clients running queries: (\d+)/.exec(out)![1]);
    const perClient = Number(/Average number of queries per client: (\d+)/.exec(out)![1]);
    const r = await analyzeJson(file);
    const selects = r.endpoints.filter((e) => e.protocol === 'mysql' && e.operation === 'SELECT');
    expect(selects.map((e) => [e.resource, e.count, e.errors])).toEqual([['select ? + ?', clients * perClient, 0]]);
    expect(countByOperation(r, 'mysql').CONNECT).toBeGreaterThanOrEqual(clients);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0 });
  });
});
