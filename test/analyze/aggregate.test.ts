/**
 * The aggregator on generated request records: records split across several aggregators (as
 * parallel jobs split them), each with connection contexts of its own, then merged in any order,
 * give exactly what one aggregator of all records gives; and which percentile method it reports.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/analyze/aggregate.js';
import type { ConnContext, Peer } from '../../src/analyze/connections.js';
import { EXACT_LIMIT, RELATIVE_ERROR } from '../../src/analyze/histogram.js';
import type { L7Record, Reply } from '../../src/protocols/index.js';

const peer = (addr: string, port: number, pid: number, comm: string, containerId = ''): Peer => ({ addr, port, pid, comm, containerId });

const connArb: fc.Arbitrary<ConnSpec> = fc.record({
  protocol: fc.constantFrom('http1', 'redis', 'dns'),
  client: fc.constantFrom(peer('10.0.0.1', 40000, 100, 'curl'), peer('10.0.0.2', 40001, 0, ''), peer('10.0.0.3', 40002, 101, 'wrk', 'abcdef0123456789')),
  server: fc.constantFrom(...[0, 200, 201, 202, 203, 204].map((pid) => peer('10.0.0.9', pid % 2 ? 80 : 6379, pid, pid ? `srv${pid}` : ''))),
});

const recordArb: fc.Arbitrary<Spec> = fc.record({
  conn: fc.nat(7),
  operation: fc.constantFrom('GET', 'SET', 'POST'),
  resource: fc.constantFrom('/a', '/b/1', '/b/2', 'user:7', ''),
  status: fc.constantFrom('200', '404', 'ok', ''),
  error: fc.constantFrom('', 'boom'),
  // Coarse latencies on top and few start times, so the slowest list has ties to break.
  latencyNs: fc.oneof(fc.bigInt({ min: 0n, max: 20n }).map((x) => x * 100_000_000n), fc.bigInt({ min: 0n, max: 10n ** 9n })),
  startTs: fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 10n ** 12n })),
  reqBytes: fc.nat(5000),
  respBytes: fc.nat(5000),
  reply: fc.constantFrom<Reply>('paired', 'missing', 'none-expected'),
  // A record may name another protocol than its connection's (gRPC calls on an HTTP/2 connection).
  own: fc.constantFrom(undefined, undefined, 'grpc'),
  incomplete: fc.constantFrom(undefined, undefined, 'HTTP/2 header state unknown', 'another reason'),
});

type Spec = Omit<L7Record, 'protocol' | 'endTs' | 'fields' | 'incomplete'> & {
  readonly conn: number; readonly own: string | undefined; readonly incomplete: string | undefined;
};
type ConnSpec = Pick<ConnContext, 'protocol' | 'client' | 'server'>;

function l7(s: Spec, protocol: string): L7Record {
  const { conn: _conn, own, incomplete, ...rest } = s;
  const rec = { ...rest, protocol: own ?? protocol, endTs: s.startTs + s.latencyNs, fields: {} };
  return incomplete === undefined ? rec : { ...rec, incomplete };
}

/** Everything the report reads from an aggregator: of the slowest requests, the fields it shows (records that tie on
 * all of them may differ in bytes or reply, which it does not show). */
function answers(a: Aggregator): unknown {
  return {
    records: a.records, operations: a.operations(), serviceMap: a.serviceMap(), protocols: a.protocols(),
    percentiles: a.percentileMethod(), incomplete: a.incompleteRecords(),
    slowest: a.slowestRequests().map(({ rec: { latencyNs, startTs, protocol, operation, resource, status, error }, ctx }) => ({
      latencyNs, startTs, protocol, operation, resource, status, error, conn: ctx.conn, client: ctx.client, server: ctx.server,
    })),
  };
}

/** One context per connection number, made afresh for each aggregator as each job tracks its own. */
function contexts(conns: readonly ConnSpec[]): ConnContext[] {
  return conns.map((c, i) => ({ conn: i + 1, l4: 'tcp', observedAt: 'client', bothEndsTraced: false, ...c }));
}

/** Aggregates `specs` in one aggregator (last first), and split over `jobs` aggregators as `assign` says, merged in
 * order or in reverse (through structured clones of their state); both must answer the same. */
function checkSplitMerge(conns: ConnSpec[], specs: Spec[], jobs: number, assign: number[], top: number, reverseMerge: boolean): void {
  const recordOf = (s: Spec, ctxs: ConnContext[]): [L7Record, ConnContext] => {
    const ctx = ctxs[s.conn % ctxs.length]!;
    return [l7(s, ctx.protocol), ctx];
  };
  const one = new Aggregator(top);
  const oneCtx = contexts(conns);
  for (const s of [...specs].reverse()) one.add(...recordOf(s, oneCtx));
  const parts = Array.from({ length: jobs }, () => ({ agg: new Aggregator(top), ctxs: contexts(conns) }));
  specs.forEach((s, i) => {
    const part = parts[assign[i % assign.length]! % jobs]!;
    part.agg.add(...recordOf(s, part.ctxs));
  });
  const order = reverseMerge ? [...parts].reverse() : parts;
  const merged = order[0]!.agg;
  // Reverse merges also send each part's state through a structured clone, as worker threads do.
  for (const p of order.slice(1)) {
    if (reverseMerge) merged.mergeState(structuredClone(p.agg.toState()));
    else merged.merge(p.agg);
  }
  expect(answers(merged)).toEqual(answers(one));
}

const splitArbs = [fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 50 }), fc.nat(12), fc.boolean()] as const;

describe('aggregator merge', () => {
  it('gives what one aggregator gives, however records are split and merged', () => {
    fc.assert(fc.property(fc.array(connArb, { minLength: 1, maxLength: 8 }), fc.array(recordArb, { maxLength: 150 }), ...splitArbs,
      checkSplitMerge), { numRuns: 150 });
  });

  it('does so past the histogram threshold too', () => {
    // Few runs of thousands of records; shrinking those would take minutes, so a failure is reported as found.
    fc.assert(fc.property(fc.array(connArb, { minLength: 1, maxLength: 3 }),
      fc.array(recordArb, { minLength: EXACT_LIMIT, maxLength: 3 * EXACT_LIMIT }), ...splitArbs,
      checkSplitMerge), { numRuns: 8, endOnFailure: true });
  });

  it('puts a record in its own protocol\'s rows and counts records with unknown fields by reason', () => {
    const ctx = contexts([{ protocol: 'http2', client: peer('10.0.0.1', 40000, 100, 'grpcurl'), server: peer('10.0.0.9', 50051, 200, 'srv') }])[0]!;
    const rec = (protocol: string, operation: string, incomplete?: string): L7Record => ({
      protocol, operation, resource: '', status: 'OK', error: '', startTs: 1n, endTs: 2n,
      latencyNs: 1n, reqBytes: 1, respBytes: 1, reply: 'paired', fields: {}, ...(incomplete === undefined ? {} : { incomplete }),
    });
    const a = new Aggregator(3);
    a.add(rec('grpc', 'pkg.Svc/Get'), ctx);
    a.add(rec('http2', 'GET', 'HTTP/2 header state unknown'), ctx);
    a.add(rec('grpc', 'pkg.Svc/Get', 'HTTP/2 header state unknown'), ctx);
    expect(a.operations().map((o) => `${o.protocol} ${o.operation} ${o.count}`)).toEqual(['grpc pkg.Svc/Get 2', 'http2 GET 1']);
    expect(a.serviceMap().map((e) => `${e.protocol} ${e.count}`)).toEqual(['grpc 2', 'http2 1']);
    expect(a.protocols().map((p) => p.protocol)).toEqual(['grpc', 'http2']);
    expect(a.incompleteRecords()).toEqual([{ reason: 'HTTP/2 header state unknown', count: 2 }]);
  });

  it('says which percentile method it used', () => {
    const ctx = contexts([{ protocol: 'http1', client: peer('10.0.0.1', 40000, 100, 'curl'), server: peer('10.0.0.9', 80, 200, 'nginx') }])[0]!;
    const rec = (i: number): L7Record => ({
      protocol: 'http1', operation: 'GET', resource: '/', status: '200', error: '', startTs: BigInt(i), endTs: BigInt(2 * i),
      latencyNs: BigInt(i), reqBytes: 1, respBytes: 1, reply: 'paired', fields: {},
    });
    const a = new Aggregator(3);
    for (let i = 1; i <= EXACT_LIMIT; i++) a.add(rec(i), ctx);
    expect(a.percentileMethod()).toEqual({ method: 'exact', exactUpTo: EXACT_LIMIT, relativeError: 0 });
    expect(a.protocols()[0]!.summary.p50Ns).toBe(EXACT_LIMIT / 2);
    const b = new Aggregator(3);
    b.add(rec(EXACT_LIMIT + 1), ctx);
    a.merge(b);
    expect(a.percentileMethod()).toEqual({ method: 'histogram', exactUpTo: EXACT_LIMIT, relativeError: RELATIVE_ERROR });
    expect(a.protocols()[0]!.summary.maxNs).toBe(EXACT_LIMIT + 1);
    expect(a.slowestRequests().map((l) => Number(l.rec.latencyNs))).toEqual([EXACT_LIMIT + 1, EXACT_LIMIT, EXACT_LIMIT - 1]);
  });
});
