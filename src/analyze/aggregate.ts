/**
 * Aggregation of request records into what the report shows: per server endpoint and operation,
 * the service map (who talks to whom), and the slowest requests. Every list comes out sorted by
 * explicit keys and percentiles use the nearest-rank method on exact latencies, so the same
 * records always give the same numbers.
 */
import { endpointText } from '../probe/net.js';
import type { L7Record } from '../protocols/index.js';
import type { ConnContext, Peer } from './connections.js';
import { resourceGroup } from './group.js';

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

/** Nearest-rank percentile of ascending-sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * Whether the record counts as an error: the protocol set an error (HTTP status >= 400, a DNS
 * rcode other than NOERROR, an error reply of a database or cache).
 */
export function isError(r: L7Record): boolean {
  return r.error !== '';
}

/** Collects latencies and counters for one group of records. */
class Bucket {
  private lat = new Float64Array(16);
  count = 0;
  errors = 0;
  noResponse = 0;
  reqBytes = 0;
  respBytes = 0;
  readonly statuses = new Map<string, number>();

  add(r: L7Record): void {
    if (this.count === this.lat.length) {
      const grown = new Float64Array(this.lat.length * 2);
      grown.set(this.lat);
      this.lat = grown;
    }
    this.lat[this.count++] = Number(r.latencyNs);
    if (isError(r)) this.errors++;
    if (r.reply === 'missing') this.noResponse++;
    this.reqBytes += r.reqBytes;
    this.respBytes += r.respBytes;
    this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
  }

  summary(): LatencySummary {
    const sorted = this.lat.slice(0, this.count).sort();
    return {
      count: this.count, errors: this.errors, noResponse: this.noResponse,
      p50Ns: percentile(sorted, 50), p90Ns: percentile(sorted, 90), p99Ns: percentile(sorted, 99),
      maxNs: sorted.length ? sorted[sorted.length - 1]! : 0,
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

/** A bounded list of the slowest records, ties broken by start time then connection. */
class Slowest {
  private items: Located[] = [];
  constructor(private readonly limit: number) {}

  add(rec: L7Record, ctx: ConnContext): void {
    if (this.limit <= 0) return;
    const item = { rec, ctx };
    if (this.items.length >= this.limit && !Slowest.before(item, this.items[this.items.length - 1]!)) return;
    this.items.push(item);
    this.items.sort((a, b) => (Slowest.before(a, b) ? -1 : Slowest.before(b, a) ? 1 : 0));
    if (this.items.length > this.limit) this.items.pop();
  }

  list(): readonly Located[] {
    return this.items;
  }

  private static before(a: Located, b: Located): boolean {
    if (a.rec.latencyNs !== b.rec.latencyNs) return a.rec.latencyNs > b.rec.latencyNs;
    if (a.rec.startTs !== b.rec.startTs) return a.rec.startTs < b.rec.startTs;
    return a.ctx.conn < b.ctx.conn;
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

/** Per server endpoint: its operations, by operation and resource. */
interface ServerGroup {
  readonly protocol: string;
  readonly server: string;
  readonly ops: Map<string, Group<OpKey>>;
}

/** What a connection context resolves to, cached so each request costs a map lookup or two. */
interface Slots {
  readonly group: ServerGroup;
  readonly serverProcess: string;
  readonly edge: Group<EdgeKey>;
  readonly proto: Bucket;
}

export class Aggregator {
  private readonly groups = new Map<string, ServerGroup>();
  private readonly edges = new Map<string, Group<EdgeKey>>();
  private readonly byProtocol = new Map<string, Bucket>();
  private readonly slots = new WeakMap<ConnContext, Slots>();
  private readonly slowest: Slowest;
  records = 0;

  constructor(topN: number) {
    this.slowest = new Slowest(topN);
  }

  add(rec: L7Record, ctx: ConnContext): void {
    this.records++;
    let slots = this.slots.get(ctx);
    if (!slots) this.slots.set(ctx, (slots = this.resolve(ctx)));
    const resource = resourceGroup(rec.protocol, rec.resource);
    const opKey = `${rec.operation}\0${resource}`;
    let op = slots.group.ops.get(opKey);
    if (!op) {
      const g = slots.group;
      op = { key: { protocol: g.protocol, server: g.server, operation: rec.operation, resource }, procs: new ServerProcesses(), bucket: new Bucket() };
      g.ops.set(opKey, op);
    }
    op.procs.add(slots.serverProcess);
    op.bucket.add(rec);
    slots.edge.procs.add(slots.serverProcess);
    slots.edge.bucket.add(rec);
    slots.proto.add(rec);
    this.slowest.add(rec, ctx);
  }

  private resolve(ctx: ConnContext): Slots {
    const server = endpointText(ctx.server.addr, ctx.server.port);
    const serverProcess = processText(ctx.server);
    const groupKey = `${ctx.protocol}\0${server}`;
    let group = this.groups.get(groupKey);
    if (!group) this.groups.set(groupKey, (group = { protocol: ctx.protocol, server, ops: new Map() }));
    const client = clientText(ctx.client);
    const edgeKey = `${client}\0${server}\0${ctx.protocol}`;
    let edge = this.edges.get(edgeKey);
    if (!edge) this.edges.set(edgeKey, (edge = { key: { client, server, protocol: ctx.protocol }, procs: new ServerProcesses(), bucket: new Bucket() }));
    let proto = this.byProtocol.get(ctx.protocol);
    if (!proto) this.byProtocol.set(ctx.protocol, (proto = new Bucket()));
    return { group, serverProcess, edge, proto };
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

  slowestRequests(): readonly Located[] {
    return this.slowest.list();
  }
}
