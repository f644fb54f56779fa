/**
 * `kcap analyze --jobs N` gives the same bytes for every N. A generated capture with many
 * connections (both ends of HTTP and Redis traffic traced, so joins must land in one shard), a
 * kernel loss in the middle and connections left open at the end is cut into many small chunks
 * and analyzed (and its requests listed) by separate kcap processes with 1, 2 and 4 worker
 * threads.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureWriter } from '../../src/capture/index.js';
import { kcap } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/servers.js';
import { CaptureBuilder, CLOCK, MACHINE, tupleFields } from '../helpers/source.js';

const CONNS = 24;
const EXCHANGES = 30;

/** Connection i: an HTTP (even i) or Redis (odd i) client on port 40000+i, both ends traced. */
function build(): { b: CaptureBuilder; lossAfter: number } {
  const b = new CaptureBuilder().thread(100, 100, 'client').thread(200, 200, 'nginx').thread(300, 300, 'redis-server');
  const ends = Array.from({ length: CONNS }, (_, i) => {
    const port = i % 2 === 0 ? 8080 : 6379;
    const server = i % 2 === 0 ? 200 : 300;
    const c = { laddr: '127.0.0.1', lport: 40000 + i, raddr: '127.0.0.1', rport: port };
    const s = { laddr: '127.0.0.1', lport: port, raddr: '127.0.0.1', rport: 40000 + i };
    b.add('connect', { pid: 100, tid: 100, fields: { fd: 10 + i, res: 0, ...tupleFields(c) } });
    b.add('accept4', { pid: server, tid: server, fields: { fd: 10 + i, listen_fd: 4, res: 10 + i, ...tupleFields(s) } });
    return { i, c, s, server };
  });
  const io = (name: 'read' | 'write', pid: number, fd: number, t: Record<string, unknown>, data: string): void => {
    b.add(name, { pid, tid: pid, fields: { fd, res: data.length, latency: 700, ...tupleFields(t as never) }, vars: { data } });
  };
  let lossAfter = 0;
  for (let k = 0; k < EXCHANGES; k++) {
    if (k === EXCHANGES / 2) lossAfter = b.count;
    // Interleave the connections so every chunk holds several of them.
    for (const { i, c, s, server } of ends) {
      if (k === EXCHANGES - 1 && i % 5 === 0) continue;
      const http = i % 2 === 0;
      const req = http ? `GET /item/${k} HTTP/1.1\r\nHost: a\r\n\r\n` : `*2\r\n$3\r\nGET\r\n$2\r\nk${k % 10}\r\n`;
      const resp = http ? `HTTP/1.1 ${k % 7 === 0 ? 500 : 200} X\r\nContent-Length: 2\r\n\r\nok` : '$1\r\nv\r\n';
      io('write', 100, 10 + i, c, req);
      io('read', server, 10 + i, s, req);
      io('write', server, 10 + i, s, resp);
      io('read', 100, 10 + i, c, resp);
    }
  }
  return { b, lossAfter };
}

describe('kcap analyze --jobs', () => {
  let dir = '';
  let file = '';

  beforeAll(() => {
    dir = tempDir('parallel');
    file = join(dir, 'many.kcap');
    const { b, lossAfter } = build();
    const w = CaptureWriter.create(file, { machine: MACHINE, clock: CLOCK, snaplen: 256, tables: b.tables, chunkSize: 2048 });
    b.encoded().forEach((r, n) => {
      if (n === lossAfter) w.noteLost(3, 0);
      w.append(r);
    });
    w.close();
  });

  afterAll(() => { if (dir !== '') removeDir(dir); });

  for (const format of [['--json'], []]) {
    it(`prints the same bytes${format.length ? ' of --json' : ''} with 1, 2 and 4 jobs`, async () => {
      const runs = [];
      for (const j of [1, 2, 4]) runs.push(await kcap(['analyze', file, ...format, '-n', '50', '--jobs', String(j)]));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      for (const r of runs.slice(1)) expect(r.stdout).toBe(runs[0]!.stdout);
      if (format.length) {
        const report = JSON.parse(runs[0]!.stdout);
        // Every exchange was seen from both ends and counted once; the loss cuts some off.
        expect(report.connections.total).toBe(CONNS);
        expect(report.connections.bothEndsJoined).toBe(CONNS);
        expect(report.incomplete.lostEvents).toBe(3);
        expect(report.requests).toBeGreaterThan(CONNS * (EXCHANGES - 2));
        expect(report.requests).toBeLessThanOrEqual(CONNS * EXCHANGES);
        expect(report.protocols.map((p: { protocol: string }) => p.protocol)).toEqual(['http1', 'redis']);
      }
    });
  }

  it('streams the same requests in the same order with 1, 2 and 4 jobs (kcap requests)', async () => {
    const runs = [];
    for (const j of [1, 2, 4]) runs.push(await kcap(['requests', file, '--json', '--jobs', String(j)]));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const r of runs.slice(1)) expect(r.stdout).toBe(runs[0]!.stdout);
    const lines = runs[0]!.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    // Connections interleave in the stream, so the merge of the workers' records is really tested.
    const conns = lines.slice(0, 2 * CONNS).map((l) => l.client);
    expect(new Set(conns).size).toBeGreaterThan(CONNS / 2);
    const report = JSON.parse((await kcap(['analyze', file, '--json', '--jobs', '2'])).stdout);
    expect(lines).toHaveLength(report.requests);
  });

  it('refuses a jobs count that is not a positive whole number', async () => {
    const r = await kcap(['analyze', file, '--jobs', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--jobs/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});
