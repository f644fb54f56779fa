/**
 * End to end on a real recording: redis-server on loopback, redis-benchmark and redis-cli run under
 * `kcap record`, then `kcap analyze --json`; the report must count what the clients say they sent.
 * One recording traces both ends to prove a loopback connection is joined and counted once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, countByOperation, countByStatus, recordCommand, recordWhile } from '../helpers/cli.js';
import { client, ensurePackages, removeDir, startRedis, tempDir, type Server } from '../helpers/servers.js';

const REQUESTS = 2000;
const CLIENTS = 4;

/** redis-benchmark's own "====== SET ======\n  N requests completed" lines. */
function benchmarkCompleted(out: string): Record<string, number> {
  const done: Record<string, number> = {};
  for (const m of out.matchAll(/====== (\w+) ======\s+(\d+) requests completed/g)) done[m[1]!] = Number(m[2]);
  return done;
}

/** Commands for redis-cli, one process each; two of them fail on the server. */
const CLI_COMMANDS = [
  ['SET', 'e2e:a', 'one'], ['GET', 'e2e:a'], ['GET', 'e2e:missing'], ['INCR', 'e2e:n'], ['INCR', 'e2e:n'],
  ['INCR', 'e2e:a'], ['DEL', 'e2e:a', 'e2e:n'], ['NOSUCHCMD', 'x'],
];

describeBpf('e2e redis: redis-server, redis-benchmark and redis-cli recorded by kcap', () => {
  let server: Server | undefined;
  let work = '';

  beforeAll(async () => {
    const missing = ensurePackages('redis-server', 'redis-tools');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-redis-cap');
    server = await startRedis();
  });

  afterAll(async () => {
    await server?.stop();
    if (work !== '') removeDir(work);
  });

  const benchmark = (): string[] =>
    ['redis-benchmark', '-p', String(server!.port), '-n', String(REQUESTS), '-c', String(CLIENTS), '-t', 'get,set'];

  it('counts every GET and SET redis-benchmark completed, from the client side alone', async () => {
    const file = join(work, 'client.kcap');
    const done = benchmarkCompleted(await recordCommand(file, benchmark()));
    expect(done).toEqual({ SET: REQUESTS, GET: REQUESTS });
    const r = await analyzeJson(file);
    const ops = countByOperation(r, 'redis');
    expect(ops.GET).toBe(done.GET);
    expect(ops.SET).toBe(done.SET);
    const gets = r.endpoints.filter((e) => e.operation === 'GET' || e.operation === 'SET');
    expect(gets.every((e) => e.resource === 'key:__rand_int__' && e.server === `127.0.0.1:${server!.port}`)).toBe(true);
    expect(countByStatus(r, 'redis')).toEqual({ ok: r.requests });
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
    expect(r.serviceMap.map((s) => s.client)).toEqual(['redis-benchmark']);
    expect(r.connections.bothEndsJoined).toBe(0);
  });

  it('reports redis-cli commands with their replies, errors included', async () => {
    const file = join(work, 'cli.kcap');
    const script = CLI_COMMANDS.map((c) => `redis-cli -p ${server!.port} ${c.join(' ')}`).join('; ');
    const out = await recordCommand(file, ['sh', '-c', script]);
    const clientErrors = out.split('\n').filter((l) => l.startsWith('ERR ')).length;
    expect(clientErrors).toBe(2);
    const r = await analyzeJson(file);
    const sent: Record<string, number> = {};
    for (const [name] of CLI_COMMANDS) sent[name!] = (sent[name!] ?? 0) + 1;
    const ops = countByOperation(r, 'redis');
    // Compared command by command: anything else redis-cli might send must not change these.
    for (const [name, n] of Object.entries(sent)) expect(ops[name], name).toBe(n);
    expect(r.endpoints.filter((e) => e.protocol === 'redis').reduce((n, e) => n + e.errors, 0)).toBe(clientErrors);
    const incr = r.endpoints.filter((e) => e.operation === 'INCR');
    expect(incr.flatMap((e) => e.statuses).reduce((n, s) => n + (s.status === 'ok' ? s.count : 0), 0)).toBe(2);
  });

  it('joins the two ends of each loopback connection when the server is traced too, counting each request once', async () => {
    const file = join(work, 'both.kcap');
    const done = benchmarkCompleted(await recordCommand(file, benchmark(), { pids: [server!.pid] }));
    const r = await analyzeJson(file);
    const ops = countByOperation(r, 'redis');
    expect(ops.GET).toBe(done.GET);
    expect(ops.SET).toBe(done.SET);
    const redisConns = r.connections.byProtocol.find((p) => p.protocol === 'redis')!.count;
    expect(redisConns).toBeGreaterThanOrEqual(CLIENTS);
    expect(r.connections.bothEndsJoined).toBe(redisConns);
    expect(r.connections.total).toBe(redisConns); // each connection once, not once per end
    expect(r.endpoints.every((e) => e.serverProcess === `redis-server[${server!.pid}]`)).toBe(true);
    expect(r.serviceMap).toHaveLength(1);
    expect(r.serviceMap[0]).toMatchObject({ client: 'redis-benchmark', serverProcess: `redis-server[${server!.pid}]`, count: r.requests });
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0 });
  });

  it('joins both ends in a recording of every process on the host, for this server\'s port', async () => {
    const file = join(work, 'all.kcap');
    const [cmd, ...args] = benchmark();
    const done = benchmarkCompleted(await recordWhile(file, () => client(cmd!, args)));
    // Other processes on the host may talk Redis too: only this server's endpoint is compared.
    const r = await analyzeJson(file);
    const mine = r.endpoints.filter((e) => e.protocol === 'redis' && e.server === `127.0.0.1:${server!.port}`);
    const ops: Record<string, number> = {};
    for (const e of mine) ops[e.operation] = (ops[e.operation] ?? 0) + e.count;
    expect([ops.GET, ops.SET]).toEqual([done.GET, done.SET]);
    expect(mine.every((e) => e.serverProcess === `redis-server[${server!.pid}]` && e.noResponse === 0)).toBe(true);
    const edge = r.serviceMap.find((s) => s.server === `127.0.0.1:${server!.port}`)!;
    expect(edge).toMatchObject({ client: 'redis-benchmark', serverProcess: `redis-server[${server!.pid}]` });
    expect(edge.count).toBe(mine.reduce((n, e) => n + e.count, 0));
    expect(r.connections.bothEndsJoined).toBeGreaterThanOrEqual(CLIENTS);
  });
});
