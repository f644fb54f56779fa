/**
 * End to end on a real recording: PostgreSQL 15 on loopback, pgbench (TPC-B, simple and prepared
 * protocol) and psql run under `kcap record`, then `kcap analyze --json`; every TPC-B statement must
 * be counted once per transaction pgbench says it processed, and psql's error must show as one.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnalysisResult } from '../../src/analyze/analyze.js';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, recordCommand } from '../helpers/cli.js';
import { ensurePackages, PG_BIN, removeDir, startPostgres, tempDir, type Server } from '../helpers/servers.js';

const PER_CLIENT = 40;
const CLIENTS = 4;

/** The seven statements of pgbench's built-in TPC-B script, by how their text starts. */
const TPCB = {
  begin: /^BEGIN$/,
  updateAccounts: /^UPDATE pgbench_accounts /,
  selectBalance: /^SELECT abalance FROM pgbench_accounts /,
  updateTellers: /^UPDATE pgbench_tellers /,
  updateBranches: /^UPDATE pgbench_branches /,
  insertHistory: /^INSERT INTO pgbench_history /,
  end: /^END$/,
};

/** Requests per TPC-B statement, executions only or PREPAREs only. */
function tpcbCounts(r: AnalysisResult, prepares: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, re] of Object.entries(TPCB)) {
    out[name] = r.endpoints.filter((e) => e.protocol === 'postgres' && (e.operation === 'PREPARE') === prepares && re.test(e.resource))
      .reduce((n, e) => n + e.count, 0);
  }
  return out;
}

const each = (n: number): Record<string, number> => Object.fromEntries(Object.keys(TPCB).map((k) => [k, n]));

describeBpf('e2e postgres: PostgreSQL, pgbench and psql recorded by kcap', () => {
  let server: Server | undefined;
  let work = '';
  const conn = (): string[] => ['-h', '127.0.0.1', '-p', String(server!.port), '-U', 'postgres'];

  beforeAll(async () => {
    const missing = ensurePackages('postgresql');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-pg-cap');
    server = await startPostgres(); // initialized for pgbench
  });

  afterAll(async () => {
    await server?.stop();
    if (work !== '') removeDir(work);
  });

  for (const mode of ['simple', 'prepared'] as const) {
    it(`counts each TPC-B statement once per transaction pgbench processed (${mode} protocol)`, async () => {
      const file = join(work, `pgbench-${mode}.kcap`);
      const out = await recordCommand(file, [`${PG_BIN}/pgbench`, ...conn(), '-t', String(PER_CLIENT), '-c', String(CLIENTS),
        '-M', mode, 'postgres']);
      const m = /number of transactions actually processed: (\d+)\/(\d+)/.exec(out);
      expect(m, out).not.toBeNull();
      const processed = Number(m![1]);
      expect(processed).toBe(Number(m![2]));
      const r = await analyzeJson(file);
      expect(tpcbCounts(r, false)).toEqual(each(processed));
      // Prepared mode parses each statement once per connection, before its first use.
      expect(tpcbCounts(r, true)).toEqual(each(mode === 'prepared' ? CLIENTS : 0));
      const tpcb = r.endpoints.filter((e) => Object.values(TPCB).some((re) => re.test(e.resource)));
      expect(tpcb.every((e) => e.errors === 0 && e.statuses.every((s) => s.status === 'ok'))).toBe(true);
      expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
      expect(r.serviceMap.map((s) => [s.client, s.server])).toEqual([['pgbench', `127.0.0.1:${server!.port}`]]);
    });
  }

  it('joins both ends and names every backend that served the TPC-B statements when postgres is traced', async () => {
    const file = join(work, 'pgbench-both.kcap');
    const out = await recordCommand(file, [`${PG_BIN}/pgbench`, ...conn(), '-t', String(PER_CLIENT), '-c', String(CLIENTS), 'postgres'],
      { pids: [server!.pid] });
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(out)![1]);
    const r = await analyzeJson(file);
    expect(tpcbCounts(r, false)).toEqual(each(processed));
    const conns = r.connections.byProtocol.find((p) => p.protocol === 'postgres')!.count;
    expect(r.connections.bothEndsJoined).toBe(conns);
    expect(r.connections.total).toBe(conns);
    // The postmaster forks one backend per connection: pgbench's clients were served by CLIENTS of them.
    const begin = r.endpoints.find((e) => TPCB.begin.test(e.resource))!;
    // "a, b, c +N more" when there are more than three.
    const [, listed, more] = /^(.*?)(?: \+(\d+) more)?$/.exec(begin.serverProcess)!;
    const backends = listed!.split(', ');
    expect(backends.length + Number(more ?? 0)).toBe(CLIENTS);
    expect(backends.every((b) => /^postgres\[\d+\]$/.test(b) && b !== `postgres[${server!.pid}]`)).toBe(true);
  });

  it('shows a failing psql statement as an error and a good one as ok', async () => {
    const file = join(work, 'psql.kcap');
    const script = `psql ${conn().join(' ')} -c 'select 42 as answer' -c 'select * from no_such_table' 2>&1`;
    const out = await recordCommand(file, ['sh', '-c', script], { okCodes: [0, 1] });
    expect(out).toMatch(/ERROR: +relation "no_such_table" does not exist/);
    expect(out).toMatch(/\b42\b/);
    const r = await analyzeJson(file);
    const bad = r.endpoints.filter((e) => e.resource === 'select * from no_such_table');
    expect(bad.map((e) => [e.operation, e.count, e.errors, e.statuses])).toEqual([['SELECT', 1, 1, [{ status: 'error', count: 1 }]]]);
    const good = r.endpoints.filter((e) => e.resource === 'select ? as answer');
    expect(good.map((e) => [e.count, e.errors, e.statuses])).toEqual([[1, 0, [{ status: 'ok', count: 1 }]]]);
    expect(r.serviceMap.map((s) => s.client)).toEqual(['psql']);
  });
});
