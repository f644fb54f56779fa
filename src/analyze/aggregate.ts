/**
 * Aggregation of request records into what the report shows: per server endpoint and operation,
 * the service map (who talks to whom), and the slowest requests. Every list comes out sorted by
 * explicit keys and percentiles come from a mergeable histogram (exact nearest-rank up to a
 * threshold), so the same records always give the same numbers. Aggregators of disjoint parts of
 * the records merge into what one aggregator of them all would hold.
 */
import { endpointText } from '../probe/net.js';
import type { L7Record } from '../protocols/index.js';
import type { ConnContext, Peer } from './connections.js';
import { resourceGroup } from './group.js';
import { EXACT_LIMIT, LatencyHistogram, RELATIVE_ERROR, type HistogramState, type PercentileMethod } from './histogram.js';

export interface LatencySummary {
  readonly count: number;
  readonly errors: number;
  /** Requests that got no response (connection ended or bytes lost first). */
  readonly noResponse: number;
  readonly p50Ns: number;
  readonly p90Ns: number;
  readonly p99Ns: number;
  readonly maxNs: number;
  readonly reqBytes: number;
  readonly respBytes: number;
}

export interface EndpointOperation extends LatencySummary {
  readonly protocol: string;
  readonly server: string;
  readonly serverProcess: string;
  readonly operation: string;
  readonly resource: string;
  /** Status values and how often each was seen, sorted by status. */
  readonly statuses: readonly { readonly status: string; readonly count: number }[];
}

export interface ServiceEdge extends LatencySummary {
  readonly client: string;
  readonly server: string;
  readonly serverProcess: string;
  readonly protocol: string;
}

/**
 * Whether the record counts as an error: the protocol set an error (HTTP status >= 400, a DNS
 * rcode other than NOERROR, an error reply of a database or cache).
 */
export function isError(r: L7Record): boolean {
  return r.error !== '';
}

interface BucketState {
  readonly lat: HistogramState;
  readonly errors: number;
  readonly noResponse: number;
  readonly reqBytes: number;
  readonly respBytes: number;
  readonly statuses: readonly (readonly [string, number])[];
}

/** Collects latencies and counters for one group of records. */
class Bucket {
  constructor(readonly lat = new LatencyHistogram()) {}
  errors = 0;
  noResponse = 0;
  reqBytes = 0;
  respBytes = 0;
  readonly statuses = new Map<string, number>();

  add(r: L7Record): void {
    this.lat.add(Number(r.latencyNs));
    if (isError(r)) this.errors++;
    if (r.reply === 'missing') this.noResponse++;
    this.reqBytes += r.reqBytes;
    this.respBytes += r.respBytes;
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
  }

  merge(o: Bucket): void {
    this.lat.merge(o.lat);
    this.errors += o.errors;
    this.noResponse += o.noResponse;
    this.reqBytes += o.reqBytes;
    this.respBytes += o.respBytes;
    for (const [status, n] of o.statuses) this.statuses.set(status, (this.statuses.get(status) ?? 0) + n);
  }

  toState(): BucketState {
    const { errors, noResponse, reqBytes, respBytes } = this;
    return { lat: this.lat.toState(), errors, noResponse, reqBytes, respBytes, statuses: [...this.statuses] };
  }

  static fromState(s: BucketState): Bucket {
    const b = new Bucket(LatencyHistogram.fromState(s.lat));
    b.errors = s.errors;
    b.noResponse = s.noResponse;
    b.reqBytes = s.reqBytes;
    b.respBytes = s.respBytes;
    for (const [status, n] of s.statuses) b.statuses.set(status, n);
    return b;
  }

  summary(): LatencySummary {
    const [p50Ns, p90Ns, p99Ns] = this.lat.percentiles([50, 90, 99]) as [number, number, number];
    return {
      count: this.lat.count, errors: this.errors, noResponse: this.noResponse, p50Ns, p90Ns, p99Ns, maxNs: this.lat.max,
      reqBytes: this.reqBytes, respBytes: this.respBytes,
    };
  }
}

/** A process as the report names it: `comm[pid]`, with its container when it has one. */
export function processText(p: Peer): string {
  if (p.pid === 0) return '';
  const base = `${p.comm || '?'}[${p.pid}]`;
  return p.containerId ? `${base}@${p.containerId.slice(0, 12)}` : base;
}

/** Server processes seen for one group. A pre-forking server (postgres backends, nginx workers)
 * serves one endpoint from several processes; naming only the first would misattribute the rest. */
class ServerProcesses {
  private readonly seen = new Set<string>();

  add(text: string): void {
    if (text !== '') this.seen.add(text);
  }

  merge(o: ServerProcesses): void {
    for (const text of o.seen) this.seen.add(text);
  }

  names(): string[] {
    return [...this.seen];
  }

  static of(names: readonly string[]): ServerProcesses {
    const p = new ServerProcesses();
    for (const n of names) p.add(n);
    return p;
  }

  /** Sorted names, at most three, then how many more. */
  text(): string {
    const all = [...this.seen].sort(cmp);
    return all.length <= 3 ? all.join(', ') : `${all.slice(0, 3).join(', ')} +${all.length - 3} more`;
  }
}

/** The client side of the service map: a process when traced, else its address. */
function clientText(p: Peer): string {
  return p.pid !== 0 ? `${p.comm || '?'}${p.containerId ? `@${p.containerId.slice(0, 12)}` : ''}` : p.addr;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A request with where it happened, as the slowest list keeps it. */
export interface Located {
  readonly rec: L7Record;
  readonly ctx: ConnContext;
}

/**
 * A bounded list of the slowest records, ties broken by start time, connection, then what the
 * report shows of them, so the list does not depend on the order records arrived in.
 */
class Slowest {
  private items: Located[] = [];
  constructor(private readonly limit: number) {}

  add(rec: L7Record, ctx: ConnContext): void {
    if (this.limit <= 0) return;
    const item = { rec, ctx };
    if (this.items.length >= this.limit && Slowest.order(item, this.items[this.items.length - 1]!) >= 0) return;
    this.items.push(item);
    this.items.sort(Slowest.order);
    if (this.items.length > this.limit) this.items.pop();
  }

  list(): readonly Located[] {
    return this.items;
  }

  private static order(a: Located, b: Located): number {
    if (a.rec.latencyNs !== b.rec.latencyNs) return a.rec.latencyNs > b.rec.latencyNs ? -1 : 1;
    if (a.rec.startTs !== b.rec.startTs) return a.rec.startTs < b.rec.startTs ? -1 : 1;
    return a.ctx.conn - b.ctx.conn || cmp(a.rec.protocol, b.rec.protocol) || cmp(a.rec.operation, b.rec.operation) || cmp(a.rec.resource, b.rec.resource)
      || cmp(a.rec.status, b.rec.status) || cmp(a.rec.error, b.rec.error);
  }
}

type OpKey = Omit<EndpointOperation, keyof LatencySummary | 'statuses' | 'serverProcess'>;
type EdgeKey = Omit<ServiceEdge, keyof LatencySummary | 'serverProcess'>;

/** Counters of one group of requests and the server processes that answered them. */
interface Group<K> {
  readonly key: K;
  readonly procs: ServerProcesses;
  readonly bucket: Bucket;
}

function newGroup<K>(key: K): Group<K> {
  return { key, procs: new ServerProcesses(), bucket: new Bucket() };
}

/** A group as plain data, to cross between threads. */
interface GroupState<K> {
  readonly key: K;
  readonly procs: readonly string[];
  readonly bucket: BucketState;
}

function groupState<K>(g: Group<K>): GroupState<K> {
  return { key: g.key, procs: g.procs.names(), bucket: g.bucket.toState() };
}

function groupOf<K>(s: GroupState<K>): Group<K> {
  return { key: s.key, procs: ServerProcesses.of(s.procs), bucket: Bucket.fromState(s.bucket) };
}

/**
 * An aggregator as plain data, so a worker thread's aggregation can be merged in another (its
 * connection contexts stay behind; the slowest records carry copies of theirs).
 */
export interface AggregatorState {
  readonly records: number;
  readonly ops: readonly GroupState<OpKey>[];
  readonly edges: readonly GroupState<EdgeKey>[];
  readonly byProtocol: readonly (readonly [string, BucketState])[];
  readonly slowest: readonly Located[];
  /** Records with unknown fields, by the reason their protocol gave. */
  readonly incomplete: readonly (readonly [string, number])[];
}

function mergeGroup<K>(into: Group<K>, from: Group<K>): void {
  into.procs.merge(from.procs);
  into.bucket.merge(from.bucket);
}

/** The value of `key` in `map`, made by `make` the first time. */
function entry<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make()));
  return v;
}

/** Per server endpoint: its operations, by operation and resource. */
interface ServerGroup {
  readonly protocol: string;
  readonly server: string;
  readonly ops: Map<string, Group<OpKey>>;
}

/**
 * What a connection context resolves to for one protocol (a connection's records may name
 * another than the one detected: gRPC calls on HTTP/2), cached so each request costs a map
 * lookup or two.
 */
interface Slots {
  readonly protocol: string;
  readonly group: ServerGroup;
  readonly serverProcess: string;
  readonly edge: Group<EdgeKey>;
  readonly proto: Bucket;
  /** The operation row of the connection's last request, by its unfolded resource: a
   * connection mostly repeats one request, which then needs no folding and no lookup. */
  last: { readonly operation: string; readonly resource: string; readonly op: Group<OpKey> } | undefined;
}

export class Aggregator {
  private readonly groups = new Map<string, ServerGroup>();
  private readonly edges = new Map<string, Group<EdgeKey>>();
  private readonly byProtocol = new Map<string, Bucket>();
  private readonly slots = new WeakMap<ConnContext, Slots>();
  private readonly incomplete = new Map<string, number>();
  private readonly slowest: Slowest;
  records = 0;

  constructor(topN: number) {
    this.slowest = new Slowest(topN);
  }

  add(rec: L7Record, ctx: ConnContext): void {
    this.records++;
    let slots = this.slots.get(ctx);
    if (slots?.protocol !== rec.protocol) this.slots.set(ctx, (slots = this.resolve(ctx, rec.protocol)));
    if (rec.incomplete !== undefined) this.countIncomplete(rec.incomplete, 1);
    const op = this.opOf(slots, rec);
    op.procs.add(slots.serverProcess);
    op.bucket.add(rec);
    slots.edge.procs.add(slots.serverProcess);
    slots.edge.bucket.add(rec);
    slots.proto.add(rec);
    this.slowest.add(rec, ctx);
  }

  /**
   * Takes in what an aggregator of other records (with the same top N) holds, so this one holds
   * what one aggregator of both sets of records would. Groups meet by their text keys: each
   * aggregator has connection contexts of its own.
   */
  merge(other: Aggregator): void {
    this.mergeState(other.toState());
  }

  toState(): AggregatorState {
    return {
      records: this.records,
      ops: [...this.groups.values()].flatMap((g) => [...g.ops.values()].map(groupState)),
      edges: [...this.edges.values()].map(groupState),
      byProtocol: [...this.byProtocol].map(([protocol, b]) => [protocol, b.toState()] as const),
      slowest: this.slowest.list(),
      incomplete: [...this.incomplete],
    };
  }

  /** Takes in an aggregator's state, as merge() takes in the aggregator. */
  mergeState(s: AggregatorState): void {
    this.records += s.records;
    for (const o of s.ops) mergeGroup(this.op(this.group(o.key.protocol, o.key.server), o.key.operation, o.key.resource), groupOf(o));
    for (const e of s.edges) mergeGroup(this.edge(e.key.client, e.key.server, e.key.protocol), groupOf(e));
    for (const [protocol, b] of s.byProtocol) this.protocolBucket(protocol).merge(Bucket.fromState(b));
    for (const { rec, ctx } of s.slowest) this.slowest.add(rec, ctx);
    for (const [reason, n] of s.incomplete) this.countIncomplete(reason, n);
  }

  private countIncomplete(reason: string, n: number): void {
    this.incomplete.set(reason, (this.incomplete.get(reason) ?? 0) + n);
  }

  private resolve(ctx: ConnContext, protocol: string): Slots {
    const server = endpointText(ctx.server.addr, ctx.server.port);
    return {
      protocol, group: this.group(protocol, server), serverProcess: processText(ctx.server),
      edge: this.edge(clientText(ctx.client), server, protocol), proto: this.protocolBucket(protocol), last: undefined,
    };
  }

  private opOf(slots: Slots, rec: L7Record): Group<OpKey> {
    const last = slots.last;
    if (last !== undefined && last.operation === rec.operation && last.resource === rec.resource) return last.op;
    const op = this.op(slots.group, rec.operation, resourceGroup(rec.protocol, rec.resource));
    slots.last = { operation: rec.operation, resource: rec.resource, op };
    return op;
  }

  private group(protocol: string, server: string): ServerGroup {
    return entry(this.groups, `${protocol}\0${server}`, () => ({ protocol, server, ops: new Map() }));
  }

  /** Called per request: no closure, one string and one lookup. */
  private op(g: ServerGroup, operation: string, resource: string): Group<OpKey> {
    const key = `${operation}\0${resource}`;
    let op = g.ops.get(key);
    if (!op) g.ops.set(key, (op = newGroup({ protocol: g.protocol, server: g.server, operation, resource })));
    return op;
  }

  private edge(client: string, server: string, protocol: string): Group<EdgeKey> {
    return entry(this.edges, `${client}\0${server}\0${protocol}`, () => newGroup({ client, server, protocol }));
  }

  private protocolBucket(protocol: string): Bucket {
    return entry(this.byProtocol, protocol, () => new Bucket());
  }

  /** Per endpoint and operation, sorted by protocol, server, then request count (most first), operation, resource. */
  operations(): EndpointOperation[] {
    return [...this.groups.values()].flatMap((g) => [...g.ops.values()]).map(({ key, procs, bucket }) => ({
      ...key, serverProcess: procs.text(), ...bucket.summary(),
      statuses: [...bucket.statuses].map(([status, count]) => ({ status, count })).sort((a, b) => cmp(a.status, b.status)),
    })).sort((a, b) => cmp(a.protocol, b.protocol) || cmp(a.server, b.server) || b.count - a.count
      || cmp(a.operation, b.operation) || cmp(a.resource, b.resource));
  }

  /** Service map edges, sorted by client, server, protocol. */
  serviceMap(): ServiceEdge[] {
    return [...this.edges.values()].map(({ key, procs, bucket }) => ({ ...key, serverProcess: procs.text(), ...bucket.summary() }))
      .sort((a, b) => cmp(a.client, b.client) || cmp(a.server, b.server) || cmp(a.protocol, b.protocol));
  }

  protocols(): { protocol: string; summary: LatencySummary }[] {
    return [...this.byProtocol].map(([protocol, b]) => ({ protocol, summary: b.summary() }))
      .sort((a, b) => cmp(a.protocol, b.protocol));
  }

  /** How the percentiles were computed: from the histogram when any protocol had more requests than it keeps exactly. */
  percentileMethod(): PercentileMethod {
    return [...this.byProtocol.values()].every((b) => b.lat.isExact)
      ? { method: 'exact', exactUpTo: EXACT_LIMIT, relativeError: 0 }
      : { method: 'histogram', exactUpTo: EXACT_LIMIT, relativeError: RELATIVE_ERROR };
  }

  slowestRequests(): readonly Located[] {
    return this.slowest.list();
  }

  /** Records with unknown fields per reason, by reason. */
  incompleteRecords(): { reason: string; count: number }[] {
    return [...this.incomplete].map(([reason, count]) => ({ reason, count })).sort((a, b) => cmp(a.reason, b.reason));
  }
}
