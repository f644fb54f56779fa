/**
 * The filter language on the generated session: a table of expressions and exactly the events
 * (by scenario step) each selects; errors that name the column; and properties over random
 * expressions: `not (A)` selects the complement of A, `A and B` is A followed by B.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIELDS, FilterError, compileFilter } from '../../src/filter/index.js';
import { replay } from '../../src/probe/replay.js';
import { buildScenario } from '../probe/scenario.js';
import { filterExpressions } from './expressions.js';

const { builder, n } = buildScenario();
type Step = keyof typeof n;

async function select(filter: string, then?: string): Promise<number[]> {
  const second = then === undefined ? undefined : compileFilter(then);
  const nums: number[] = [];
  await replay(builder.source(4), (ev) => {
    if (second === undefined || second(ev)) nums.push(ev.num);
  }, { filter: compileFilter(filter) });
  return nums;
}

async function everything(): Promise<number[]> {
  const nums: number[] = [];
  await replay(builder.source(), (ev) => nums.push(ev.num));
  return nums;
}

const NGINX_PROC: Step[] = ['accept', 'requestIn', 'log', 'response', 'fork', 'missed', 'eof'];
const NGINX_AND_CHILD: Step[] = ['accept', 'requestIn', 'log', 'response', 'fork', 'exec', 'childWrite', 'childExit', 'missed', 'eof'];

const TABLE: [string, Step[]][] = [
  ['evt.type = read', ['requestIn', 'responseIn', 'fileRead', 'missed', 'eof']],
  ['evt.type in (read, recvfrom) and evt.res > 0', ['requestIn', 'responseIn', 'fileRead', 'missed', 'dnsQuery']],
  ['evt.dir=out', ['request', 'log', 'response', 'childWrite']],
  ['evt.is_io = true and fd.type = file', ['log', 'fileRead', 'childWrite']],
  ['proc.name = nginx', NGINX_PROC],
  ['proc.name=nginx and not fd.name contains 8080', ['log', 'fork']],
  ['fd.sport = 8080', ['connect', 'accept', 'request', 'requestIn', 'response', 'responseIn', 'close', 'missed', 'eof', 'retransmit']],
  ['fd.cport = 40000 and evt.dir = in', ['requestIn', 'responseIn', 'eof']],
  ['evt.failed = true', ['refused']],
  ['container.name = web', NGINX_AND_CHILD],
  ['user.name = "www-data"', NGINX_AND_CHILD],
  ['container.id = host and proc.pid != 0', ['socket', 'connect', 'request', 'responseIn', 'close', 'reopen', 'fileRead', 'dnsQuery', 'refused']],
  ['proc.cmdline startswith "logger -t"', ['exec', 'childWrite', 'childExit']],
  ['fd.name endswith .log', ['log', 'childWrite']],
  ["evt.buffer icontains 'http/1.1 200'", ['response', 'responseIn']],
  ['fd.l4proto = udp', ['dnsQuery']],
  ['fd.cip exists and fd.sip = 127.0.0.1 and fd.sport < 100', ['dnsQuery']],
  ['fd.origin = inferred', ['missed', 'retransmit', 'refused']],
  ['evt.latency >= 2500 and thread.tid = 200', ['connect', 'request', 'responseIn', 'close', 'fileRead', 'refused']],
  ['evt.category = process or (evt.type = socket)', ['socket', 'fork', 'exec', 'childExit']],
  ['evt.is_io = true and evt.category = net', ['request', 'requestIn', 'response', 'responseIn', 'missed', 'eof', 'dnsQuery']],
  ['evt.category = file', ['log', 'close', 'reopen', 'fileRead', 'childWrite']],
  ['not (proc.pid in (100, 300, 200) or evt.type == tcp_retransmit)', ['dnsQuery']],
];

describe('filter selection', () => {
  it.each(TABLE)('%s', async (filter, steps) => {
    expect(await select(filter)).toEqual(steps.map((s) => n[s]).sort((a, b) => a - b));
  });
});

describe('filter errors', () => {
  const ERRORS: [string, number, string][] = [
    ['proc.pid = abc', 12, "proc.pid is a number: 'abc' is not one"],
    ['evt.type = read and', 20, 'expected a field name before the end'],
    ['foo.bar = 1', 1, "unknown field 'foo.bar' (kcap fields lists them)"],
    ["evt.type = 'read", 12, 'unterminated string'],
    ['(evt.type = read', 17, "expected ')' before the end"],
    ['proc.pid contains 1', 10, "'contains' needs a text field; proc.pid is a number"],
    ['evt.type read', 10, "expected an operator but found 'read'"],
    ['evt.is_io = yes', 13, 'evt.is_io is a bool: expected true or false'],
    ['evt.type = read)', 16, "unexpected ')'"],
    ['', 1, 'empty filter'],
  ];
  it.each(ERRORS)('%j fails at column %i', (filter, column, reason) => {
    let err: unknown;
    try {
      compileFilter(filter);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FilterError);
    expect(err).toMatchObject({ column, reason });
  });

  it('draws a caret under the column', () => {
    try {
      compileFilter('proc.pid = abc');
    } catch (e) {
      expect((e as FilterError).pointer()).toBe('proc.pid = abc\n           ^');
    }
    expect.assertions(1);
  });
});

describe('filter algebra', () => {
  const expr = filterExpressions([...TABLE.map(([f]) => f), 'fd.name exists', 'evt.res < 0', 'proc.exe endswith nginx']);

  it('not (A) selects exactly the events A does not', async () => {
    const all = await everything();
    await fc.assert(fc.asyncProperty(expr, async (a) => {
      const yes = new Set(await select(a));
      expect(await select(`not (${a})`)).toEqual(all.filter((x) => !yes.has(x)));
    }), { numRuns: 60 });
  });

  it('A and B selects what filtering by A then by B selects', async () => {
    await fc.assert(fc.asyncProperty(expr, expr, async (a, b) => {
      expect(await select(`(${a}) and (${b})`)).toEqual(await select(a, b));
    }), { numRuns: 60 });
  });
});

describe('field table', () => {
  it('declares each field once, with a description, and every field the issue names', () => {
    const names = FIELDS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of FIELDS) expect(f.desc.length).toBeGreaterThan(10);
    for (const want of ['evt.type', 'evt.dir', 'evt.is_io', 'evt.res', 'evt.latency', 'proc.name', 'proc.pid', 'thread.tid',
      'proc.cmdline', 'fd.name', 'fd.type', 'fd.sip', 'fd.cip', 'fd.sport', 'fd.cport', 'fd.l4proto', 'container.id',
      'container.name', 'user.name']) expect(names).toContain(want);
  });
});
