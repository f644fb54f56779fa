/**
 * L7 fields in filters: a table of expressions and exactly the records (made by the real parsers
 * from hand-built exchanges) each selects; type errors; how a filter of both kinds splits into
 * an event part and a record part, and which mixes are refused; and properties over random
 * expressions: `not (A)` is the complement, `A and B` is A then B, a split filter selects what
 * its parts do.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileFilter, compileNode, compileRecordFilter, eventFilter, FilterError, L7_FIELDS, parseFilter, splitFilter,
  type FilterNode, type RecordSubject,
} from '../../src/filter/index.js';
import { COMMON_FIELDS, PROTOCOLS, protocolByName } from '../../src/protocols/index.js';
import { replay } from '../../src/probe/replay.js';
import { buildScenario } from '../probe/scenario.js';
import { enc, run, type Ev } from '../protocols/support.js';
import { filterExpressions, SCENARIO_ATOMS } from './expressions.js';

type Ctx = RecordSubject['ctx'];

const peer = (addr: string, port: number, pid: number, comm: string): Ctx['client'] => ({ addr, port, pid, comm });
const WEB: Ctx = { client: peer('127.0.0.1', 40000, 10, 'curl'), server: peer('127.0.0.1', 8080, 20, 'nginx') };
const CACHE: Ctx = { client: peer('10.0.0.2', 41000, 30, 'app'), server: peer('10.0.0.9', 6379, 0, '') };
const RESOLVER: Ctx = { client: peer('::1', 53000, 30, 'app'), server: peer('::1', 53, 40, 'dnsmasq') };

const at = (ts: number, dir: Ev['dir'], text: string | Uint8Array): Ev => ({ dir, ts: BigInt(ts), bytes: typeof text === 'string' ? enc(text) : text });
const http = (method: string, path: string, status: number, reason: string, t: number, dt: number, body = ''): Ev[] => [
  at(t, 'req', `${method} ${path} HTTP/1.1\r\nHost: web\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
  at(t + dt, 'resp', `HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\n\r\n`),
];
const resp = (...words: string[]): string => `*${words.length}\r\n${words.map((w) => `$${w.length}\r\n${w}\r\n`).join('')}`;
const QUERY_A = Uint8Array.of(0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1);
const NXDOMAIN_A = Uint8Array.of(0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1);

/** The records, in order: 0-2 HTTP, 3-5 redis, 6 DNS; each with its connection. */
const RECORDS: readonly RecordSubject[] = [
  ...run(protocolByName('http1')!, [
    ...http('GET', '/a', 200, 'OK', 100, 1_000), ...http('GET', '/missing', 404, 'Not Found', 2_000, 2_000),
    ...http('POST', '/api', 500, 'Internal Server Error', 5_000, 3_000_000, 'x=1'),
  ]).map((rec) => ({ rec, ctx: WEB })),
  ...run(protocolByName('redis')!, [
    at(10, 'req', resp('SET', 'k1', 'v')), at(20, 'resp', '+OK\r\n'),
    at(30, 'req', resp('GET', 'k1')), at(40, 'resp', '$1\r\nv\r\n'),
    at(50, 'req', resp('GET', 'k2')), at(90, 'resp', '-ERR wrong\r\n'),
  ]).map((rec) => ({ rec, ctx: CACHE })),
  ...run(protocolByName('dns')!, [at(1, 'req', QUERY_A), at(7, 'resp', NXDOMAIN_A)], { transport: 'datagram' })
    .map((rec) => ({ rec, ctx: RESOLVER })),
];

function selected(filter: string): number[] {
  const { records } = splitFilter(filter);
  const test = records ? compileRecordFilter(records) : (): boolean => true;
  return RECORDS.flatMap((s, i) => (test(s.rec, s.ctx) ? [i] : []));
}

const TABLE: [string, number[]][] = [
  ['http.status = 404', [1]],
  ['http.status >= 500', [2]],
  ['http.method = GET', [0, 1]],
  ['http.path startswith /a', [0, 2]],
  ['l7.proto = http', [0, 1, 2]],
  ['l7.protocol = http1', [0, 1, 2]],
  ['l7.proto in (redis, dns)', [3, 4, 5, 6]],
  ['l7.proto != http', [3, 4, 5, 6]],
  ['l7.proto in (http, pgsql)', [0, 1, 2]],
  ['l7.protocol contains http', [0, 1, 2]],
  ['redis.command = GET', [4, 5]],
  ['redis.command = GET and redis.key = k1', [4]],
  ['redis.key exists and not redis.command = SET', [4, 5]],
  ['l7.status = error', [5]],
  ['l7.error != ""', [1, 2, 5, 6]],
  ['l7.error icontains WRONG', [5]],
  ['l7.latency > 1000000', [2]],
  ['l7.latency < 20', [3, 4, 6]],
  ['l7.req_bytes > 50', [1, 2]],
  ['l7.resp_bytes = 5', [3]],
  ['l7.operation = GET', [0, 1, 4, 5]],
  ['l7.resource = k1', [3, 4]],
  ['l7.reply = paired', [0, 1, 2, 3, 4, 5, 6]],
  ['dns.rcode = NXDOMAIN', [6]],
  ['dns.qname = a and dns.truncated = false', [6]],
  ['l7.server_process = nginx', [0, 1, 2]],
  ['l7.server_process exists', [0, 1, 2, 6]],
  ['l7.client_process = app and l7.server_port = 53', [6]],
  ['l7.server = "[::1]:53"', [6]],
  ['l7.client startswith 10.', [3, 4, 5]],
  ['http.status = 404 or redis.command = SET', [1, 3]],
];

describe('L7 filter selection', () => {
  it('has the records the table is about', () => {
    expect(RECORDS.map((s) => `${s.rec.protocol} ${s.rec.operation} ${s.rec.status}`)).toEqual([
      'http1 GET 200', 'http1 GET 404', 'http1 POST 500', 'redis SET ok', 'redis GET ok', 'redis GET error', 'dns QUERY A NXDOMAIN']);
  });

  it.each(TABLE)('%s', (filter, want) => {
    expect(selected(filter)).toEqual(want);
  });
});

describe('L7 field table', () => {
  it('offers every common and protocol field under its declared name, with the issue\'s names among them', () => {
    const names = L7_FIELDS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    const declared = [...COMMON_FIELDS, ...PROTOCOLS.flatMap((p) => p.fields)].map((f) => f.name);
    for (const n of declared) expect(names).toContain(n);
    for (const want of ['l7.proto', 'l7.protocol', 'l7.operation', 'l7.resource', 'l7.status', 'l7.error', 'l7.latency',
      'l7.req_bytes', 'l7.resp_bytes', 'http.method', 'http.path', 'http.status', 'redis.command', 'redis.key', 'pgsql.query',
      'mysql.query', 'dns.qname', 'dns.rcode', 'memcache.command']) expect(names).toContain(want);
    for (const f of L7_FIELDS) expect(f.desc.length, f.name).toBeGreaterThan(5);
  });

  it('types protocol fields as their declarations do', () => {
    const byName = new Map(L7_FIELDS.map((f) => [f.name, f.type]));
    for (const f of PROTOCOLS.flatMap((p) => p.fields)) {
      expect(byName.get(f.name), f.name).toBe(f.type === 'string' ? 'string' : f.type === 'bool' ? 'bool' : 'number');
    }
  });

  it('reads each record field as the record holds it', () => {
    for (const { rec, ctx } of RECORDS) {
      for (const [name, value] of Object.entries(rec.fields)) {
        expect(L7_FIELDS.find((f) => f.name === name)!.get({ rec, ctx }), name).toBe(value);
      }
    }
  });
});

describe('L7 filter errors', () => {
  const ERRORS: [string, number, string][] = [
    ['http.status = abc', 15, "http.status is a number: 'abc' is not one"],
    ['l7.latency contains 5', 12, "'contains' needs a text field; l7.latency is a number"],
    ['dns.truncated > true', 15, 'dns.truncated is a bool: only = and != apply'],
    ['l7.proto = gopher', 12, "l7.proto has no value 'gopher' (kcap fields lists them)"],
    ['l7.proto in (http, gopher)', 20, "l7.proto has no value 'gopher' (kcap fields lists them)"],
    ['http1.status = 200', 1, "unknown field 'http1.status' (kcap fields lists them)"],
  ];
  it.each(ERRORS)('%j fails at column %i', (filter, column, reason) => {
    expect(() => splitFilter(filter)).toThrow(expect.objectContaining({ name: 'FilterError', column, reason }));
  });
});

/** A filter tree back as text, fully parenthesised, for comparing shapes. */
function text(node: FilterNode): string {
  switch (node.kind) {
    case 'and':
    case 'or': return `(${text(node.left)} ${node.kind} ${text(node.right)})`;
    case 'not': return `not ${text(node.operand)}`;
    case 'exists': return `${node.field.name} exists`;
    case 'in': return `${node.field.name} in (${node.values.join(',')})`;
    case 'compare': return `${node.field.name} ${node.op} ${String(node.value)}`;
  }
}

describe('splitting a filter into its event and L7 parts', () => {
  const SPLITS: [string, string | undefined, string | undefined][] = [
    ['evt.type = read', 'evt.type = read', undefined],
    ['http.status = 404', undefined, 'http.status = 404'],
    ['evt.type = read or proc.name = nginx', '(evt.type = read or proc.name = nginx)', undefined],
    ['not (http.status = 404 or redis.key exists)', undefined, 'not (http.status = 404 or redis.key exists)'],
    ['proc.name = nginx and http.status >= 500', 'proc.name = nginx', 'http.status >= 500'],
    ['http.status >= 500 and fd.sport = 8080 and l7.proto = http and evt.dir = in',
      '(fd.sport = 8080 and evt.dir = in)', '(http.status >= 500 and l7.proto = http1)'],
    ['(fd.sport = 80 or fd.sport = 8080) and not http.method = HEAD', '(fd.sport = 80 or fd.sport = 8080)', 'not http.method = HEAD'],
  ];
  it.each(SPLITS)('%s', (filter, events, records) => {
    const parts = splitFilter(filter);
    expect(parts.events && text(parts.events)).toBe(events);
    expect(parts.records && text(parts.records)).toBe(records);
  });

  const REFUSED: [string, number, string, string][] = [
    ['evt.type = read or http.status = 500', 20, 'http.status', 'or'],
    ['http.status = 500 or evt.type = read', 22, 'http.status', 'or'],
    ['not (proc.name = nginx and http.status = 500)', 28, 'http.status', 'not'],
    ['fd.sport = 80 and (evt.dir = in or http.method = GET)', 36, 'http.method', 'or'],
  ];
  it.each(REFUSED)('refuses %j at column %i', (filter, column, l7, op) => {
    let err: unknown;
    try {
      splitFilter(filter);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterError);
    expect((err as FilterError).column).toBe(column);
    expect((err as FilterError).reason).toContain(`'${l7}' (an L7 field)`);
    expect((err as FilterError).reason).toContain(`meet under '${op}'`);
    expect((err as FilterError).reason).toContain("only by a top-level 'and'");
  });

  it('refuses L7 fields where only events are selected (print, record), naming the field', () => {
    expect(() => compileFilter('evt.type = read and http.status = 404')).toThrow(
      expect.objectContaining({ column: 21, reason: expect.stringContaining("'http.status' is an L7 field") }));
    expect(() => eventFilter('l7.latency > 5')).toThrow(FilterError);
    expect(text(eventFilter('evt.type = read and fd.sport = 80'))).toBe('(evt.type = read and fd.sport = 80)');
  });
});

describe('L7 filter algebra', () => {
  const expr = filterExpressions(TABLE.map(([f]) => f));
  const all = RECORDS.map((_, i) => i);

  it('not (A) selects exactly the records A does not', () => {
    fc.assert(fc.property(expr, (a) => {
      const yes = new Set(selected(a));
      expect(selected(`not (${a})`)).toEqual(all.filter((i) => !yes.has(i)));
    }), { numRuns: 300 });
  });

  it('A and B selects what A selects of what B selects', () => {
    fc.assert(fc.property(expr, expr, (a, b) => {
      const second = new Set(selected(b));
      expect(selected(`(${a}) and (${b})`)).toEqual(selected(a).filter((i) => second.has(i)));
    }), { numRuns: 300 });
  });

  it('E and R splits into exactly E for events and R for records, whatever E and R', async () => {
    const { builder } = buildScenario();
    const events = async (f: (ev: Parameters<ReturnType<typeof compileFilter>>[0]) => boolean): Promise<number[]> => {
      const nums: number[] = [];
      await replay(builder.source(4), (ev) => nums.push(ev.num), { filter: f });
      return nums;
    };
    await fc.assert(fc.asyncProperty(filterExpressions(SCENARIO_ATOMS), expr, fc.boolean(), async (e, r, eventsFirst) => {
      const parts = splitFilter(eventsFirst ? `(${e}) and (${r})` : `(${r}) and (${e})`);
      expect(await events(compileNode(parts.events!))).toEqual(await events(compileFilter(e)));
      const test = compileRecordFilter(parts.records!);
      expect(RECORDS.flatMap((s, i) => (test(s.rec, s.ctx) ? [i] : []))).toEqual(selected(r));
    }), { numRuns: 40 });
  });

  it('parses every L7 field the table declares', () => {
    for (const f of L7_FIELDS) expect(() => parseFilter(`${f.name} exists`), f.name).not.toThrow();
  });
});
