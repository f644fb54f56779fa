/**
 * `kcap analyze` as a library function: replays a source through the shared conversion, tracks
 * connections, parses and pairs L7 traffic, aggregates, and returns a plain, fully sorted result
 * that the text and JSON reports render. The same function serves a capture file and the live
 * recorder (`kcap record --analyze`), since both are EventSources.
 */
import type { EventSource, RawChunk } from '../capture/source.js';
import type { KEvent } from '../probe/event.js';
import { utcText } from '../report/units.js';
import { Replayer } from '../probe/replay.js';
import type { L7Record } from '../protocols/index.js';
import { Aggregator, processText, type EndpointOperation, type LatencySummary, type Located, type ServiceEdge } from './aggregate.js';
import { ConnectionTracker, type ConnectionStats } from './connections.js';
import { TcpHealth, type TcpConnHealth, type TcpTotals } from './tcp.js';
import { endpointText } from '../probe/net.js';

export interface AnalyzeOptions {
  /** Only events this selects are analyzed (a compiled `kcap` filter). */
  readonly filter?: (ev: KEvent) => boolean;
  /** Only records of these protocols are reported. */
  readonly protocols?: readonly string[];
  /** Window on request start: [from, to). */
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  /** Length of the slowest-requests list (and of the TCP connections list). Default 10. */
  readonly top?: number;
}

/** A point in a capture: ns after its first event, or an absolute UTC time in ns. */
export type TimePoint = { readonly afterStartNs: number } | { readonly utcNs: bigint };

export interface SlowRequest {
  readonly startUtc: string;
  /** ns since the capture started. */
  readonly startNs: number;
  readonly latencyNs: number;
  readonly protocol: string;
  readonly operation: string;
  readonly resource: string;
  readonly status: string;
  readonly error: string;
  readonly client: string;
  readonly clientProcess: string;
  readonly server: string;
  readonly serverProcess: string;
}

/** Everything the report says about what was incomplete, so no number is trusted blindly. */
export interface Incompleteness {
  readonly lostEvents: number;
  readonly malformedRecords: number;
  readonly streamGaps: number;
  readonly invalidFrames: number;
  readonly requestsWithoutResponse: number;
  readonly responsesWithoutRequest: number;
  readonly unknownProtocolConnections: number;
  readonly unknownProtocolBytes: number;
  readonly problems: readonly string[];
}

export interface AnalysisResult {
  readonly capture: {
    readonly hostname: string;
    readonly kernel: string;
    readonly startUtc: string;
    readonly endUtc: string;
    readonly durationNs: number;
    readonly events: number;
    readonly snaplen: number;
  };
  /** The window as ns after the first event, or null where open. */
  readonly window: { readonly fromNs: number | null; readonly toNs: number | null };
  readonly requests: number;
  readonly protocols: readonly ({ readonly protocol: string } & LatencySummary)[];
  readonly endpoints: readonly EndpointOperation[];
  readonly serviceMap: readonly ServiceEdge[];
  readonly slowest: readonly SlowRequest[];
  readonly tcp: { readonly totals: TcpTotals; readonly connections: readonly TcpConnHealth[] };
  readonly connections: { readonly total: number; readonly byProtocol: readonly { protocol: string; count: number }[]; readonly bothEndsJoined: number };
  readonly incomplete: Incompleteness;
}

export async function analyze(source: EventSource, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const top = opts.top ?? 10;
  const clock = source.clock;
  // Capture-relative times count from the first event in capture order (not the chunk minimum,
  // which depends on where chunks were cut: a live source and its file must agree).
  let base = clock.bootNs;
  let window: { fromNs: number | null; toNs: number | null } = { fromNs: null, toNs: null };
  const inWindow = (r: L7Record): boolean => {
    const t = Number(r.startTs - base);
    return (window.fromNs === null || t >= window.fromNs) && (window.toNs === null || t < window.toNs)
      && (opts.protocols === undefined || opts.protocols.includes(r.protocol));
  };
  const agg = new Aggregator(top);
  const tracker = new ConnectionTracker((r, ctx) => { if (inWindow(r)) agg.add(r, ctx); });
  const tcp = new TcpHealth();
  const replayer = new Replayer(source, opts.filter ? { filter: opts.filter } : {});
  let firstTs: bigint | undefined;
  let lastTs = 0n;
  const visit = (ev: KEvent): void => {
    tracker.onEvent(ev);
    if (ev.category === 'tcp') tcp.onEvent(ev);
  };
  for await (const chunk of source.chunks()) {
    if (firstTs === undefined && chunk.count > 0) {
      base = new DataView(chunk.records.buffer, chunk.records.byteOffset, chunk.records.byteLength).getBigUint64(8, true);
      const baseUtc = clock.realtimeNs + (base - clock.bootNs);
      window = { fromNs: relative(opts.from, baseUtc), toNs: relative(opts.to, baseUtc) };
    }
    if (chunk.lostBefore > 0) tracker.onLoss(chunk.firstTs);
    replayer.chunk(chunk, visit);
    ({ firstTs, lastTs } = timeRange(chunk, firstTs, lastTs));
  }
  tracker.finish();
  const stats = replayer.stats;
  const cs = tracker.stats;
  const utcOf = (ts: bigint): bigint => clock.realtimeNs + (ts - clock.bootNs);
  const start = firstTs ?? base;
  return {
    capture: {
      hostname: source.machine.hostname, kernel: source.machine.kernelRelease,
      startUtc: utcText(utcOf(start)),
      endUtc: utcText(utcOf(firstTs === undefined ? base : lastTs)),
      durationNs: firstTs === undefined ? 0 : Number(lastTs - start),
      events: stats.events, snaplen: source.snaplen,
    },
    window,
    requests: agg.records,
    protocols: agg.protocols().map((p) => ({ protocol: p.protocol, ...p.summary })),
    endpoints: agg.operations(),
    serviceMap: agg.serviceMap(),
    slowest: agg.slowestRequests().map((r) => slowRequest(r, utcOf, base)),
    tcp: { totals: tcp.totals(), connections: tcp.connections().slice(0, top) },
    connections: connectionSummary(cs),
    incomplete: {
      lostEvents: stats.lost, malformedRecords: stats.malformed, streamGaps: cs.gaps, invalidFrames: cs.invalidFrames,
      requestsWithoutResponse: agg.protocols().reduce((n, p) => n + p.summary.noResponse, 0),
      responsesWithoutRequest: cs.unmatchedResponses,
      unknownProtocolConnections: cs.unknown, unknownProtocolBytes: cs.unknownBytes, problems: stats.problems,
    },
  };
}

function timeRange(chunk: RawChunk, first: bigint | undefined, last: bigint): { firstTs: bigint | undefined; lastTs: bigint } {
  if (chunk.count === 0) return { firstTs: first, lastTs: last };
  return {
    firstTs: first === undefined || chunk.firstTs < first ? chunk.firstTs : first,
    lastTs: chunk.lastTs > last ? chunk.lastTs : last,
  };
}

function connectionSummary(cs: ConnectionStats): AnalysisResult['connections'] {
  const byProtocol = [...cs.byProtocol].map(([protocol, count]) => ({ protocol, count }))
    .sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  // Both traced ends of one loopback connection are one connection, not two.
  return { total: cs.connections - cs.joined, byProtocol, bothEndsJoined: cs.joined };
}

/** A window end as ns after the first event (whose UTC time is baseUtc), or null when open. */
function relative(p: TimePoint | undefined, baseUtc: bigint): number | null {
  if (p === undefined) return null;
  return 'afterStartNs' in p ? p.afterStartNs : Number(p.utcNs - baseUtc);
}

function slowRequest({ rec, ctx }: Located, utcOf: (ts: bigint) => bigint, base: bigint): SlowRequest {
  return {
    startUtc: utcText(utcOf(rec.startTs)), startNs: Number(rec.startTs - base),
    latencyNs: Number(rec.latencyNs), protocol: rec.protocol, operation: rec.operation, resource: rec.resource,
    status: rec.status, error: rec.error,
    client: endpointText(ctx.client.addr, ctx.client.port), clientProcess: processText(ctx.client),
    server: endpointText(ctx.server.addr, ctx.server.port), serverProcess: processText(ctx.server),
  };
}
