/**
 * The per-request renderer of `kcap requests`: a record on its connection becomes a row with the
 * documented keys in order, UTC from the capture's clock, untraced ends without a process; the
 * text line shows each column, escapes control characters, cuts long resources; the JSON line
 * is the row.
 */
import { describe, expect, it } from 'vitest';
import type { ConnContext } from '../../src/analyze/connections.js';
import { protocolByName, type L7Record } from '../../src/protocols/index.js';
import { RESOURCE_WIDTH, requestJson, requestRow, requestText } from '../../src/report/requests.js';
import { enc } from '../protocols/support.js';
import { CLOCK } from '../helpers/source.js';

const CTX: ConnContext = {
  conn: 3, l4: 'tcp', protocol: 'http1', observedAt: 'server', bothEndsTraced: false,
  client: { addr: '::1', port: 40000, pid: 0, comm: 'ghost', containerId: 'abc' },
  server: { addr: '127.0.0.1', port: 8080, pid: 20, comm: 'nginx', containerId: '0123456789abcdef' },
};

function httpRecord(path: string, status: string): L7Record {
  const p = protocolByName('http1')!.open();
  p.data('req', enc(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`), 1_500_000_000n);
  const [r] = p.data('resp', enc(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`), 1_502_500_000n);
  return r!;
}

describe('requests renderer', () => {
  it('makes a row with the documented keys, UTC times, and no process for an untraced end', () => {
    const row = requestRow(httpRecord('/x', '404 Not Found'), CTX, CLOCK);
    expect(Object.keys(row)).toEqual(['startUtc', 'latencyNs', 'protocol', 'operation', 'resource', 'status', 'error', 'reply',
      'client', 'clientPid', 'clientProcess', 'clientContainer', 'server', 'serverPid', 'serverProcess', 'serverContainer',
      'l4', 'conn', 'reqBytes', 'respBytes', 'fields']);
    expect(row).toMatchObject({
      startUtc: '2023-11-14T22:13:21.500000000Z', latencyNs: 2_500_000, protocol: 'http1', operation: 'GET', resource: '/x',
      status: '404', error: 'Not Found', reply: 'paired', client: '[::1]:40000', clientPid: 0, clientProcess: '', clientContainer: '',
      server: '127.0.0.1:8080', serverPid: 20, serverProcess: 'nginx', serverContainer: '0123456789abcdef', l4: 'tcp', conn: 3,
    });
    expect(row.fields).toEqual({ 'http.method': 'GET', 'http.path': '/x', 'http.host': 'h', 'http.version': 'HTTP/1.1', 'http.status': 404, 'http.reason': 'Not Found' });
  });

  it('prints one line with every column, "-" for the untraced end, the error last', () => {
    const row = requestRow(httpRecord('/x', '404 Not Found'), CTX, CLOCK);
    expect(requestText(row)).toBe(
      `2023-11-14T22:13:21.500000000Z  [::1]:40000 → 127.0.0.1:8080  - → nginx[20]@0123456789ab  http1      GET      404      2.50ms  ${row.reqBytes}B/${row.respBytes}B  /x  error="Not Found"\n`);
  });

  it('keeps a request on one line whatever its bytes, and cuts a long resource', () => {
    const row = requestRow(httpRecord('/x', '200 OK'), CTX, CLOCK);
    const odd = requestText({ ...row, resource: 'a\nb\tc\x7f', error: 'bad\nthing' });
    expect(odd.split('\n')).toHaveLength(2);
    expect(odd).toContain('  a\\x0ab\\x09c\\x7f  error="bad\\nthing"\n');
    const long = requestText({ ...row, resource: 'x'.repeat(500) });
    expect(long).toContain(`  ${'x'.repeat(RESOURCE_WIDTH - 1)}…\n`);
    expect(requestText({ ...row, resource: '', status: '', reply: 'missing' })).toMatch(/ {2}GET {6}none {5}.* {2}-\n$/);
    expect(requestText({ ...row, status: '', reply: 'none-expected' })).toContain('  noreply  ');
  });

  it('writes the row as one JSON object per line, resource in full', () => {
    const row = { ...requestRow(httpRecord('/x', '200 OK'), CTX, CLOCK), resource: 'y'.repeat(500) };
    const line = requestJson(row);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(row);
  });
});
