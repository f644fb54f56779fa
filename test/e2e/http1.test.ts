/**
 * End to end on a real recording: nginx on loopback, curl and wrk run under `kcap record`, then
 * `kcap analyze --json`; paths and status codes must match what curl printed and what nginx's
 * access log says it served. One recording traces nginx too, to prove both ends are joined.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnalysisResult } from '../../src/analyze/analyze.js';
import { describeBpf } from '../helpers/bpf.js';
import { processTree } from '../../src/record/proc/index.js';
import { analyzeJson, countByStatus, recordCommand } from '../helpers/cli.js';
import { ensurePackages, removeDir, startNginx, tempDir, type Server } from '../helpers/servers.js';

const FILES = { 'index.html': '<h1>kcap</h1>\n', 'a.txt': 'a\n', 'big.txt': 'kcap '.repeat(8000) };
/** One round of paths; /missing is a 404, / serves index.html. */
const PATHS = ['/', '/a.txt', '/big.txt', '/missing'];
const ROUNDS = 25;

type Nginx = Server & { accessLog(): string[] };

/** curl fetching every path ROUNDS times over keep-alive, printing "STATUS PATH" per request. */
function curlCommand(port: number): string[] {
  const urls = Array.from({ length: ROUNDS }, () => PATHS).flat()
    .flatMap((p) => ['-o', '/dev/null', `http://127.0.0.1:${port}${p}`]);
  return ['curl', '-s', '-w', '%{http_code} %{url_effective}\\n', ...urls];
}

/** "STATUS URL" lines (curl's or the access log's "METHOD PATH STATUS") → counts. */
function tally(pairs: readonly [string, string][]): { byPath: Record<string, number>; byStatus: Record<string, number> } {
  const byPath: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  for (const [status, path] of pairs) {
    byPath[path] = (byPath[path] ?? 0) + 1;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  }
  return { byPath, byStatus };
}

function curlSaid(out: string): ReturnType<typeof tally> {
  return tally(out.split('\n').filter(Boolean).map((l) => {
    const [status, url] = l.split(' ');
    return [status!, new URL(url!).pathname];
  }));
}

function nginxLogged(lines: readonly string[]): ReturnType<typeof tally> {
  return tally(lines.map((l) => {
    const [, path, status] = l.split(' ');
    return [status!, path!];
  }));
}

function reportedByPath(r: AnalysisResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of r.endpoints) if (e.protocol === 'http1' && e.operation === 'GET') out[e.resource] = (out[e.resource] ?? 0) + e.count;
  return out;
}

describeBpf('e2e http1: nginx, curl and wrk recorded by kcap', () => {
  let nginx: Nginx | undefined;
  let work = '';

  beforeAll(async () => {
    const missing = ensurePackages('nginx', 'curl', 'wrk');
    if (missing !== undefined) throw new Error(missing);
    work = tempDir('e2e-http-cap');
    nginx = await startNginx(FILES);
  });

  afterAll(async () => {
    await nginx?.stop();
    if (work !== '') removeDir(work);
  });

  /** Records `command` and returns its stdout with the access log lines written meanwhile. */
  async function recordWithLog(file: string, command: string[], pids?: number[]): Promise<{ out: string; logged: string[] }> {
    const before = nginx!.accessLog().length;
    const out = await recordCommand(file, command, pids ? { pids } : {});
    return { out, logged: nginx!.accessLog().slice(before) };
  }

  it('reports every path and status curl fetched, from the client side alone', async () => {
    const file = join(work, 'curl.kcap');
    const { out, logged } = await recordWithLog(file, curlCommand(nginx!.port));
    const curl = curlSaid(out);
    expect(curl.byStatus).toEqual({ 200: 3 * ROUNDS, 404: ROUNDS });
    expect(nginxLogged(logged)).toEqual(curl);
    const r = await analyzeJson(file);
    expect(reportedByPath(r)).toEqual(curl.byPath);
    expect(countByStatus(r, 'http1')).toEqual(curl.byStatus);
    expect(r.requests).toBe(PATHS.length * ROUNDS);
    expect(r.connections.byProtocol).toEqual([{ protocol: 'http1', count: 1 }]);
    const missing = r.endpoints.find((e) => e.resource === '/missing')!;
    expect(missing.errors).toBe(ROUNDS);
    expect(r.incomplete).toMatchObject({ lostEvents: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0 });
    expect(r.serviceMap.map((s) => [s.client, s.server])).toEqual([['curl', `127.0.0.1:${nginx!.port}`]]);
  });

  it('joins curl and the nginx worker on each connection when nginx is traced too (-p of the master only)', async () => {
    const file = join(work, 'curl-both.kcap');
    const pids = processTree(nginx!.pid);
    expect(pids.length).toBe(2); // master and its one worker, which -p of the master takes too
    const { out } = await recordWithLog(file, curlCommand(nginx!.port), [nginx!.pid]);
    const curl = curlSaid(out);
    const r = await analyzeJson(file);
    expect(reportedByPath(r)).toEqual(curl.byPath);
    expect(countByStatus(r, 'http1')).toEqual(curl.byStatus);
    expect(r.connections.byProtocol).toEqual([{ protocol: 'http1', count: 1 }]);
    expect(r.connections.bothEndsJoined).toBe(1);
    expect(r.connections.total).toBe(1); // one connection, though both its ends were traced
    expect(new Set(r.endpoints.map((e) => e.serverProcess))).toEqual(new Set([`nginx[${pids[1]}]`]));
  });

  it('counts what wrk sent as nginx logged it, both ends traced, over several connections', async () => {
    const file = join(work, 'wrk.kcap');
    const connections = 4;
    const { out, logged } = await recordWithLog(file,
      ['wrk', '-t1', `-c${connections}`, '-d1s', `http://127.0.0.1:${nginx!.port}/a.txt`], processTree(nginx!.pid));
    const completed = Number(/(\d+) requests in /.exec(out)![1]);
    const r = await analyzeJson(file);
    const byPath = reportedByPath(r);
    // wrk stops at the deadline with requests in flight: it counts only the answers it read, while
    // nginx logs (and the report counts) every request it received.
    expect(byPath).toEqual({ '/a.txt': logged.length });
    expect(completed).toBeLessThanOrEqual(logged.length);
    expect(nginxLogged(logged).byStatus).toEqual({ 200: logged.length });
    // The joined connection is parsed from the client's end: an answer wrk never read has no status.
    const statuses = countByStatus(r, 'http1');
    expect(statuses['200']).toBeGreaterThanOrEqual(completed);
    expect((statuses['200'] ?? 0) + (statuses[''] ?? 0)).toBe(logged.length);
    const conns = r.connections.byProtocol[0]!.count;
    expect(conns).toBeGreaterThanOrEqual(connections);
    expect(r.incomplete.requestsWithoutResponse).toBeLessThanOrEqual(conns);
    expect(r.connections.bothEndsJoined).toBe(conns);
    expect(r.incomplete.lostEvents).toBe(0);
  });
});
