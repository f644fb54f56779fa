/**
 * Connection tracking, aggregation and the reports on generated captures whose every byte is
 * known: both ends of a loopback connection joined and counted once, one end alone, unknown
 * protocols, kernel losses, percentiles and the report formats. Real recordings are in test/e2e.
 */
import { describe, expect, it } from 'vitest';
import { percentile } from '../../src/analyze/histogram.js';
import { resourceGroup } from '../../src/analyze/group.js';
import { analyze } from '../../src/analyze/analyze.js';
import type { EventSource, RawChunk } from '../../src/capture/source.js';
import { REPORT_FORMAT, renderJson } from '../../src/report/json.js';
import { renderText } from '../../src/report/text.js';
import { CaptureBuilder, tupleFields } from '../helpers/source.js';

const CLIENT = { pid: 100, comm: 'curl' };
const SERVER = { pid: 200, comm: 'nginx' };
const C_END = { laddr: '127.0.0.1', lport: 40000, raddr: '127.0.0.1', rport: 8080 };
const S_END = { laddr: '127.0.0.1', lport: 8080, raddr: '127.0.0.1', rport: 40000 };
const REQ = 'GET /items/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n';
const RESP = (status: number): string => `HTTP/1.1 ${status} X\r\nContent-Length: 2\r\n\r\nok`;

function io(b: CaptureBuilder, name: 'read' | 'write', who: typeof CLIENT, fd: number, tuple: typeof C_END, data: string): void {
  b.add(name, { pid: who.pid, tid: who.pid, fields: { fd, res: data.length, latency: 1000, ...tupleFields(tuple) }, vars: { data } });
}

/** A client and a server; `exchanges` request/response pairs with the given statuses. */
function httpCapture(opts: { server: boolean; client: boolean; statuses: number[]; gapMs?: number }): CaptureBuilder {
  const b = new CaptureBuilder().thread(CLIENT.pid, CLIENT.pid, CLIENT.comm).thread(SERVER.pid, SERVER.pid, SERVER.comm);
  if (opts.client) b.add('connect', { pid: CLIENT.pid, tid: CLIENT.pid, fields: { fd: 3, res: 0, ...tupleFields(C_END) } });
  if (opts.server) b.add('accept4', { pid: SERVER.pid, tid: SERVER.pid, fields: { fd: 5, listen_fd: 4, res: 5, ...tupleFields(S_END) } });
  for (const status of opts.statuses) {
    if (opts.client) io(b, 'write', CLIENT, 3, C_END, REQ);
    if (opts.server) io(b, 'read', SERVER, 5, S_END, REQ);
    if (opts.server) io(b, 'write', SERVER, 5, S_END, RESP(status));
    if (opts.client) io(b, 'read', CLIENT, 3, C_END, RESP(status));
  }
  return b;
}

describe('connection tracking', () => {
  it('joins both traced ends of a loopback connection and counts each request once', async () => {
    const r = await analyze(httpCapture({ client: true, server: true, statuses: [200, 404, 500] }).source());
    expect(r.requests).toBe(3);
    expect(r.connections.bothEndsJoined).toBe(1);
    expect(r.endpoints).toHaveLength(1);
    const ep = r.endpoints[0]!;
    expect([ep.protocol, ep.server, ep.serverProcess, ep.operation, ep.resource]).toEqual(['http1', '127.0.0.1:8080', 'nginx[200]', 'GET', '/items/?']);
    expect(ep.statuses).toEqual([{ status: '200', count: 1 }, { status: '404', count: 1 }, { status: '500', count: 1 }]);
    expect(ep.errors).toBe(2); // HTTP 4xx and 5xx count as errors
    expect(r.serviceMap.map((e) => [e.client, e.server, e.count])).toEqual([['curl', '127.0.0.1:8080', 3]]);
  });

  it('names the client process even when the server end is parsed first', async () => {
    // Events are emitted at syscall exit: a slow client write can land after the server's reply.
    const b = new CaptureBuilder().thread(CLIENT.pid, CLIENT.pid, CLIENT.comm).thread(SERVER.pid, SERVER.pid, SERVER.comm);
    b.add('connect', { pid: CLIENT.pid, tid: CLIENT.pid, fields: { fd: 3, res: 0, ...tupleFields(C_END) } });
    b.add('accept4', { pid: SERVER.pid, tid: SERVER.pid, fields: { fd: 5, listen_fd: 4, res: 5, ...tupleFields(S_END) } });
    io(b, 'read', SERVER, 5, S_END, REQ);
    io(b, 'write', SERVER, 5, S_END, RESP(200));
    io(b, 'write', CLIENT, 3, C_END, REQ);
    io(b, 'read', CLIENT, 3, C_END, RESP(200));
    const r = await analyze(b.source());
    expect(r.requests).toBe(1);
    expect(r.serviceMap.map((e) => [e.client, e.serverProcess])).toEqual([['curl', 'nginx[200]']]);
    expect(r.slowest[0]!.clientProcess).toBe('curl[100]');
  });

  it('names the client of a connection opened before the recording, whose server end is parsed first', async () => {
    // No connect event: the snapshot's fd table says which process holds the client socket.
    const socket = (pid: number, fd: number, end: typeof C_END) => ({ pid, fd, kind: 'ipv4' as const, name: 'socket:[1]', ino: 1, l4proto: 'tcp', state: 'ESTABLISHED', ...end });
    const b = new CaptureBuilder().thread(CLIENT.pid, CLIENT.pid, CLIENT.comm).thread(SERVER.pid, SERVER.pid, SERVER.comm)
      .fd({ pid: SERVER.pid, fd: 4, kind: 'ipv4', name: 'socket:[2]', ino: 2, l4proto: 'tcp', laddr: '0.0.0.0', lport: 8080, raddr: '0.0.0.0', rport: 0, state: 'LISTEN' })
      .fd(socket(CLIENT.pid, 3, C_END)).fd(socket(SERVER.pid, 5, S_END));
    io(b, 'read', SERVER, 5, S_END, REQ);
    io(b, 'write', SERVER, 5, S_END, RESP(200));
    io(b, 'write', CLIENT, 3, C_END, 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    const r = await analyze(b.source());
    expect(r.serviceMap.map((e) => [e.client, e.serverProcess])).toEqual([['curl', 'nginx[200]']]);
    expect(r.slowest[0]!.clientProcess).toBe('curl[100]');
  });

  it('names processes by their main thread, not by the worker thread that did the I/O', async () => {
    // Servers rename their worker threads (redis's I/O threads are io_thd_1, io_thd_2, …).
    const worker = { pid: SERVER.pid, tid: SERVER.pid + 1 };
    const b = new CaptureBuilder().thread(CLIENT.pid, CLIENT.pid, CLIENT.comm)
      .thread(SERVER.pid, SERVER.pid, SERVER.comm).thread(worker.pid, worker.tid, 'io_thd_1');
    b.add('accept4', { ...worker, fields: { fd: 5, listen_fd: 4, res: 5, ...tupleFields(S_END) } });
    b.add('read', { ...worker, fields: { fd: 5, res: REQ.length, latency: 1000, ...tupleFields(S_END) }, vars: { data: REQ } });
    b.add('write', { ...worker, fields: { fd: 5, res: RESP(200).length, latency: 1000, ...tupleFields(S_END) }, vars: { data: RESP(200) } });
    const r = await analyze(b.source());
    expect(r.requests).toBe(1);
    expect(r.endpoints[0]!.serverProcess).toBe('nginx[200]');
  });

  it('reports a server seen from its client alone, without inventing its process', async () => {
    const r = await analyze(httpCapture({ client: true, server: false, statuses: [200, 200] }).source());
    expect(r.requests).toBe(2);
    expect(r.endpoints[0]!.serverProcess).toBe('');
    expect(r.slowest.every((s) => s.clientProcess === 'curl[100]' && s.client === '127.0.0.1:40000')).toBe(true);
  });

  it('reports a client seen from its server alone by address', async () => {
    const r = await analyze(httpCapture({ client: false, server: true, statuses: [201] }).source());
    expect(r.requests).toBe(1);
    expect(r.serviceMap[0]!.client).toBe('127.0.0.1');
    expect(r.endpoints[0]!.serverProcess).toBe('nginx[200]');
  });

  it('counts connections whose bytes no parser recognises, with their bytes', async () => {
    const b = new CaptureBuilder().thread(CLIENT.pid, CLIENT.pid, CLIENT.comm);
    b.add('connect', { pid: CLIENT.pid, tid: CLIENT.pid, fields: { fd: 3, res: 0, ...tupleFields(C_END) } });
    for (let i = 0; i < 6; i++) io(b, 'write', CLIENT, 3, C_END, '\x00\x01\x02binary\xff');
    const r = await analyze(b.source());
    expect(r.requests).toBe(0);
    expect(r.incomplete.unknownProtocolConnections).toBe(1);
    expect(r.incomplete.unknownProtocolBytes).toBeGreaterThan(0);
    expect(renderText(r)).toContain('No L7 requests recognised.');
  });

  it('treats events lost by the kernel as holes: the request in flight gets no response', async () => {
    const b = httpCapture({ client: true, server: false, statuses: [200] });
    io(b, 'write', CLIENT, 3, C_END, REQ);
    const built = b.source(1);
    const lossAt = b.count - 1;
    const lossy: EventSource = {
      ...built,
      async *chunks(): AsyncIterable<RawChunk> {
        for await (const c of built.chunks()) yield c.seq === lossAt ? { ...c, lostBefore: 5 } : c;
      },
    };
    const r = await analyze(lossy);
    expect(r.incomplete.lostEvents).toBe(5);
    expect(r.incomplete.streamGaps).toBeGreaterThan(0);
    expect(r.requests).toBe(2);
    expect(r.incomplete.requestsWithoutResponse).toBe(1);
  });
});

describe('aggregation', () => {
  it('uses nearest-rank percentiles', () => {
    const v = Float64Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect([percentile(v, 50), percentile(v, 90), percentile(v, 99), percentile(v, 100)]).toEqual([50, 90, 100, 100]);
    expect(percentile(new Float64Array(0), 50)).toBe(0);
  });

  it('applies the time window and protocol selection to requests', async () => {
    const src = httpCapture({ client: true, server: false, statuses: [200, 200, 200] }).source();
    const all = await analyze(src);
    const none = await analyze(src, { protocols: ['redis'] });
    const starts = all.slowest.map((s) => s.startNs).sort((a, b) => a - b);
    const late = await analyze(src, { from: { afterStartNs: starts[1]! } });
    const early = await analyze(src, { to: { afterStartNs: starts[1]! } });
    // The same window given as UTC times.
    const utc = all.slowest.map((s) => s.startUtc).sort();
    const ns = (iso: string): bigint => BigInt(Date.parse(iso.slice(0, 19) + 'Z')) * 1_000_000n + BigInt(iso.slice(20, 29));
    const lateUtc = await analyze(src, { from: { utcNs: ns(utc[1]!) } });
    expect([all.requests, none.requests, late.requests, early.requests, lateUtc.requests]).toEqual([3, 0, 2, 1, 2]);
    expect(late.window).toEqual({ fromNs: starts[1], toNs: null });
  });
});

describe('reports', () => {
  it('render the same bytes for the same capture, JSON tagged with its format', async () => {
    const src = httpCapture({ client: true, server: true, statuses: [200, 503] }).source();
    const [a, b] = [await analyze(src), await analyze(src)];
    expect(renderText(a)).toBe(renderText(b));
    expect(renderJson(a)).toBe(renderJson(b));
    const parsed = JSON.parse(renderJson(a));
    expect(parsed.format).toBe(REPORT_FORMAT);
    expect(parsed.requests).toBe(2);
    for (const title of ['PROTOCOLS', 'ENDPOINTS', 'SERVICE MAP', 'SLOWEST REQUESTS', 'TCP', 'INCOMPLETE DATA']) {
      expect(renderText(a)).toContain(title);
    }
  });

  it('say how the percentiles were computed', async () => {
    const r = await analyze(httpCapture({ client: true, server: true, statuses: [200, 200] }).source());
    expect(JSON.parse(renderJson(r)).percentiles).toEqual({ method: 'exact', exactUpTo: 1024, relativeError: 0 });
    expect(renderText(r)).toContain('\npercentiles: nearest rank, exact\n');
    const approx = { ...r, percentiles: { method: 'histogram', exactUpTo: 1024, relativeError: 1 / 256 } } as const;
    expect(renderText(approx)).toContain('\npercentiles: nearest rank, exact up to 1024 requests a row, above from a histogram within 0.39 %\n');
  });
});

describe('resource grouping', () => {
  it('folds identifiers in paths and keys, and leaves everything else alone', () => {
    const cases: [string, string, string][] = [
      ['http1', '/items/7', '/items/?'],
      ['http1', '/v1/users/123/orders/9f86d081884c7d65', '/v1/users/?/orders/?'],
      ['http1', '/a.txt', '/a.txt'],
      ['redis', 'user:42', 'user:?'],
      ['redis', 'key:__rand_int__', 'key:__rand_int__'],
      ['redis', 'session:550e8400-e29b-41d4-a716-446655440000', 'session:?'],
      ['dns', 'web1.kcap.test', 'web1.kcap.test'],
      ['postgres', 'select ? from t where id = 5', 'select ? from t where id = 5'],
    ];
    for (const [protocol, resource, group] of cases) expect(resourceGroup(protocol, resource), resource).toBe(group);
  });
});
