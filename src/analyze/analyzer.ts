/**
 * The Analyzer: one push-style pipeline from raw chunks to an AnalysisResult. Whoever has the
 * chunks drives it — the capture reader (`kcap analyze`), the recorder as it drains
 * (`kcap record --analyze`) — by calling `chunk()` for each in capture order, then `finish()`.
 * Inside, the shared replay (conversion + state) feeds connection tracking and TCP health;
 * every L7 record that passes the window, protocol and record filter goes to the aggregation
 * and to each `onRecord` listener, in the order the records complete, so a listener (a
 * per-request view, an export) sees exactly what the report counts.
 */
import { recordTs } from '../capture/chunk.js';
import type { RawChunk, SourceInfo } from '../capture/source.js';
import { bootToUtcNs } from '../capture/source.js';
import type { KEvent } from '../probe/event.js';
import { utcText } from '../probe/format.js';
import { endpointText } from '../probe/net.js';
import { Replayer } from '../probe/replay.js';
import type { L7Record } from '../protocols/index.js';
import { Aggregator, processText, type Located } from './aggregate.js';
import { ConnectionTracker, type ConnContext, type ConnectionStats } from './connections.js';
import type { AnalysisResult, AnalyzeOptions, SlowRequest, TimePoint } from './result.js';
import { TcpHealth } from './tcp.js';

export type RecordListener = (rec: L7Record, ctx: ConnContext) => void;

/** The window as ns after the first event, null where open. */
interface Window {
  fromNs: number | null;
  toNs: number | null;
}

export class Analyzer {
  private readonly replayer: Replayer;
  private readonly tracker: ConnectionTracker;
  private readonly tcp = new TcpHealth();
  private readonly agg: Aggregator;
  private readonly listeners: RecordListener[] = [];
  private readonly visit: (ev: KEvent) => void;
  /**
   * Capture-relative times count from the first event in capture order (not the chunk minimum,
   * which depends on where chunks were cut: a live source and its file must agree).
   */
  private base: bigint;
  private firstTs: bigint | undefined;
  private lastTs = 0n;
  private window: Window = { fromNs: null, toNs: null };
  private finished = false;

  constructor(private readonly info: SourceInfo, private readonly opts: AnalyzeOptions = {}) {
    this.base = info.clock.bootNs;
    this.agg = new Aggregator(this.top);
    this.tracker = new ConnectionTracker((r, ctx) => this.onL7(r, ctx));
    this.replayer = new Replayer(info, opts.filter ? { filter: opts.filter } : {});
    const { tracker, tcp } = this;
    this.visit = (ev) => {
      tracker.onEvent(ev);
      if (ev.category === 'tcp') tcp.onEvent(ev);
    };
  }

  private get top(): number {
    return this.opts.top ?? 10;
  }

  /** Subscribes to the record stream: every record the report counts, as it completes. */
  onRecord(listener: RecordListener): void {
    this.listeners.push(listener);
  }

  /** Analyzes the next chunk of the capture, in capture order. */
  chunk(chunk: RawChunk): void {
    if (this.finished) throw new Error('Analyzer: chunk() after finish()');
    if (this.firstTs === undefined && chunk.count > 0) this.start(chunk);
    if (chunk.lostBefore > 0) this.tracker.onLoss(chunk.firstTs);
    this.replayer.chunk(chunk, this.visit);
    if (chunk.count === 0) return;
    if (this.firstTs === undefined || chunk.firstTs < this.firstTs) this.firstTs = chunk.firstTs;
    if (chunk.lastTs > this.lastTs) this.lastTs = chunk.lastTs;
  }

  /** Ends the capture: flushes every connection and returns the sorted result. */
  finish(): AnalysisResult {
    if (this.finished) throw new Error('Analyzer: finish() called twice');
    this.finished = true;
    this.tracker.finish();
    return this.result();
  }

  private start(chunk: RawChunk): void {
    const records = chunk.records;
    this.base = recordTs(new DataView(records.buffer, records.byteOffset, records.byteLength), 0);
    const baseUtc = bootToUtcNs(this.info.clock, this.base);
    this.window = { fromNs: relative(this.opts.from, baseUtc), toNs: relative(this.opts.to, baseUtc) };
  }

  private onL7(r: L7Record, ctx: ConnContext): void {
    if (!this.selects(r, ctx)) return;
    this.agg.add(r, ctx);
    for (const listener of this.listeners) listener(r, ctx);
  }

  private selects(r: L7Record, ctx: ConnContext): boolean {
    const { window, opts } = this;
    const t = Number(r.startTs - this.base);
    return (window.fromNs === null || t >= window.fromNs) && (window.toNs === null || t < window.toNs)
      && (opts.protocols === undefined || opts.protocols.includes(r.protocol))
      && (opts.recordFilter === undefined || opts.recordFilter(r, ctx));
  }

  private result(): AnalysisResult {
    const { info, agg, base, firstTs, lastTs } = this;
    const stats = this.replayer.stats;
    const cs = this.tracker.stats;
    const utcOf = (ts: bigint): bigint => bootToUtcNs(info.clock, ts);
    const start = firstTs ?? base;
    const protocols = agg.protocols();
    return {
      capture: {
        hostname: info.machine.hostname, kernel: info.machine.kernelRelease,
        startUtc: utcText(utcOf(start)),
        endUtc: utcText(utcOf(firstTs === undefined ? base : lastTs)),
        durationNs: firstTs === undefined ? 0 : Number(lastTs - start),
        events: stats.events, snaplen: info.snaplen,
      },
      window: this.window,
      requests: agg.records,
      protocols: protocols.map((p) => ({ protocol: p.protocol, ...p.summary })),
      endpoints: agg.operations(),
      serviceMap: agg.serviceMap(),
      slowest: agg.slowestRequests().map((r) => slowRequest(r, utcOf, base)),
      tcp: { totals: this.tcp.totals(), connections: this.tcp.connections().slice(0, this.top) },
      connections: connectionSummary(cs),
      incomplete: {
        lostEvents: stats.lost, malformedRecords: stats.malformed, streamGaps: cs.gaps, invalidFrames: cs.invalidFrames,
        requestsWithoutResponse: protocols.reduce((n, p) => n + p.summary.noResponse, 0),
        responsesWithoutRequest: cs.unmatchedResponses,
        unknownProtocolConnections: cs.unknown, unknownProtocolBytes: cs.unknownBytes, problems: stats.problems,
      },
    };
  }
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
