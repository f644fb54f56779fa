/** DNS parser over UDP and TCP: hand-built messages (RFC 1035), properties, real dnsmasq + dig. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dns } from '../../src/protocols/dns/index.js';
import { tcpRelay, udpRelay } from '../helpers/relay.js';
import type { Relay } from '../helpers/relay.js';
import {
  concat, expectDeclaredFields, expectRobust, expectSameExchangesUnderSnaplen, expectSplitInvariance, run, runRecorded,
} from './support.js';
import type { Ev } from './support.js';
import { client, ensurePackages, startDnsmasq } from '../helpers/servers.js';
import type { Server } from '../helpers/servers.js';

function name(n: string): Uint8Array {
  const parts = n.split('.').filter((p) => p !== '');
  return concat(...parts.map((p) => concat(Uint8Array.of(p.length), new TextEncoder().encode(p))), Uint8Array.of(0));
}

/** A message with one question; `answers` A records pointing back at the question name. */
function message(id: number, qname: string, qtype: number, o: { response?: boolean; rcode?: number; answers?: number } = {}): Uint8Array {
  const flags = (o.response ? 0x8180 : 0x0100) | (o.rcode ?? 0);
  const n = o.answers ?? 0;
  const header = Uint8Array.of(id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, 1, 0, n, 0, 0, 0, 0);
  const answer = Uint8Array.of(0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3);
  return concat(header, name(qname), Uint8Array.of(qtype >> 8, qtype & 0xff, 0, 1), ...Array.from({ length: n }, () => answer));
}

const tcpFramed = (m: Uint8Array): Uint8Array => concat(Uint8Array.of(m.length >> 8, m.length & 0xff), m);

const udpConversation: Ev[] = [
  { dir: 'req', bytes: message(1, 'a.example', 1), ts: 1n },
  { dir: 'req', bytes: message(2, 'B.Example', 28), ts: 2n },
  { dir: 'resp', bytes: message(2, 'b.example', 28, { response: true, rcode: 3 }), ts: 3n },
  { dir: 'resp', bytes: message(1, 'a.example', 1, { response: true, answers: 2 }), ts: 4n },
  { dir: 'req', bytes: message(3, 'lost.example', 15), ts: 5n },
];

const tcpConversation: Ev[] = [
  { dir: 'req', bytes: concat(tcpFramed(message(7, 'x.test', 1)), tcpFramed(message(8, 'y.test', 16))), ts: 1n },
  { dir: 'resp', bytes: concat(tcpFramed(message(8, 'y.test', 16, { response: true })), tcpFramed(message(7, 'x.test', 1, { response: true, answers: 1 }))), ts: 2n },
];

describe('dns parser', () => {
  it('pairs UDP queries and responses by id, in any order', () => {
    const records = run(dns, udpConversation, { transport: 'datagram' });
    expect(records.map((r) => [r.operation, r.resource, r.status, r.fields['dns.answers'] ?? null, r.reply])).toEqual([
      ['QUERY AAAA', 'b.example', 'NXDOMAIN', 0, 'paired'],
      ['QUERY A', 'a.example', 'NOERROR', 2, 'paired'],
      ['QUERY MX', 'lost.example', '', null, 'missing'],
    ]);
    expect(records[0]?.error).toBe('NXDOMAIN');
    expect(records[1]?.latencyNs).toBe(3n);
    expect(records[1]?.respBytes).toBe(udpConversation[3]?.bytes.length);
    expectDeclaredFields(records);
  });

  it('pairs length-prefixed messages over TCP', () => {
    const records = run(dns, tcpConversation);
    expect(records.map((r) => [r.operation, r.resource, r.status, r.reqBytes])).toEqual([
      ['QUERY TXT', 'y.test', 'NOERROR', message(8, 'y.test', 16).length + 2],
      ['QUERY A', 'x.test', 'NOERROR', message(7, 'x.test', 1).length + 2],
    ]);
  });

  it('still reads a response truncated by the snaplen', () => {
    const full = run(dns, udpConversation, { transport: 'datagram' });
    expect(run(dns, udpConversation, { transport: 'datagram', snaplen: 40 })).toEqual(full);
  });

  it('rejects compression loops and forward pointers without throwing', () => {
    const loop = concat(Uint8Array.of(0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0), Uint8Array.of(0xc0, 12, 0, 1, 0, 1));
    const p = dns.open({ transport: 'datagram' });
    expect(p.data('req', loop, 1n)).toEqual([]);
    expect(p.stats.invalid).toBe(1);
  });

  it('detects queries over UDP and TCP', () => {
    expect(dns.detect(message(1, 'a.b', 1), 'req', 53)).toBeGreaterThan(0.5);
    expect(dns.detect(tcpFramed(message(1, 'a.b', 1)), 'req')).toBeGreaterThanOrEqual(0.5);
    expect(dns.detect(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), 'req')).toBe(0);
  });

  it('gives the same records for any split of a TCP stream', () => {
    expectSplitInvariance(dns, tcpConversation);
  });

  it('never throws on random, truncated or damaged input', () => {
    expectRobust(dns, udpConversation, 'datagram');
    expectRobust(dns, tcpConversation, 'stream');
  });
});

describe('dns on real dnsmasq and dig', () => {
  let skip: string | undefined;
  let server: Server | undefined;
  let udp: Relay | undefined;
  let tcp: Relay | undefined;

  beforeAll(async () => {
    skip = ensurePackages('dnsmasq', 'bind9-dnsutils');
    if (skip !== undefined) return;
    server = await startDnsmasq();
    udp = await udpRelay(server.port);
    tcp = await tcpRelay(server.port);
  });

  afterAll(async () => {
    await udp?.close();
    await tcp?.close();
    await server?.stop();
  });

  /** dig's own view of its answer: status and answer count from the header comment. */
  async function dig(port: number, args: string[]): Promise<[string, number]> {
    const out = await client('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=5', ...args]);
    const status = /status: (\w+)/.exec(out)?.[1] ?? '?';
    const answers = Number(/ANSWER: (\d+)/.exec(out)?.[1] ?? NaN);
    return [status, answers];
  }

  const queries = [['test.kcap', 'A'], ['www.test.kcap', 'A'], ['test.kcap', 'MX'], ['txt.kcap', 'TXT'], ['nowhere.invalid', 'A']];

  it('reports the rcode and answer count dig saw, over UDP and TCP', async (ctx) => {
    if (skip !== undefined) { console.log(`skipped: ${skip}`); ctx.skip(); return; }
    for (const [relay, transport, extra] of [[udp!, 'datagram', []], [tcp!, 'stream', ['+tcp']]] as const) {
      const seen: [string, number][] = [];
      for (const [qname, qtype] of queries) seen.push(await dig(relay.port, [...extra, qname as string, qtype as string]));
      const records = runRecorded(dns, relay.chunks, { transport });
      expect(records.map((r) => [r.resource, r.operation])).toEqual(queries.map(([n, t]) => [n, `QUERY ${t}`]));
      expect(records.map((r) => [r.status, r.fields['dns.answers']])).toEqual(seen);
      expect(seen[0]).toEqual(['NOERROR', 1]);
      expect(records.every((r) => r.reply === 'paired')).toBe(true);
      expectSameExchangesUnderSnaplen(dns, relay.chunks, transport);
      expectDeclaredFields(records);
    }
  });
});
