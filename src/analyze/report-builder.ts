/**
 * The second half of analysis: selected L7 records, in capture order → the sorted result the
 * reports render. Aggregates each record (or takes in what worker threads aggregated) and hands
 * it to the record-stream listeners, then assembles the result with what the extractors knew
 * (replay and connection counts, TCP health).
 */
import { utcText } from '../report/units.js';
import { endpointText } from '../probe/net.js';
import type { L7Record } from '../protocols/index.js';
import type { SourceInfo } from '../capture/source.js';
import { bootToUtcNs } from '../capture/source.js';
import { Aggregator, processText, type AggregatorState, type Located } from './aggregate.js';
import type { ConnContext, ConnectionStats } from './connections.js';
import type { ExtractorFacts } from './extractor.js';
import type { AnalysisResult, SlowRequest } from './result.js';
import type { CaptureSpan } from './span.js';

export type RecordListener = (rec: L7Record, ctx: ConnContext) => void;

export class ReportBuilder {
  private readonly agg: Aggregator;
  private readonly listeners: RecordListener[] = [];

  constructor(private readonly info: SourceInfo, top: number) {
    this.agg = new Aggregator(top);
  }

  onRecord(listener: RecordListener): void {
    this.listeners.push(listener);
  }

  get streaming(): boolean {
    return this.listeners.length > 0;
  }

  /** A record, in capture order: aggregated and streamed. */
  add(rec: L7Record, ctx: ConnContext): void {
    this.agg.add(rec, ctx);
    this.stream(rec, ctx);
  }

  /** A record aggregated elsewhere (by a worker thread), in capture order: streamed only. */
  stream(rec: L7Record, ctx: ConnContext): void {
    for (const listener of this.listeners) listener(rec, ctx);
  }

  /** Takes in a worker thread's aggregation. */
  absorb(state: AggregatorState): void {
    this.agg.mergeState(state);
  }

  /** The result; `facts` from every extractor (one, or one per shard, shard 0 first). */
  result(span: CaptureSpan, facts: readonly ExtractorFacts[]): AnalysisResult {
    const { info, agg } = this;
    const { base, firstTs, lastTs } = span;
    const first = facts[0]!;
    if (!first.tcp) throw new Error('ReportBuilder: the facts of shard 0 come first');
    const stats = first.replay;
    const cs = sumConnectionStats(facts.map((f) => f.connections));
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
      window: span.window,
      requests: agg.records,
      percentiles: agg.percentileMethod(),
      protocols: protocols.map((p) => ({ protocol: p.protocol, ...p.summary })),
      endpoints: agg.operations(),
      serviceMap: agg.serviceMap(),
      slowest: agg.slowestRequests().map((r) => slowRequest(r, utcOf, base)),
      tcp: first.tcp,
      connections: connectionSummary(cs),
      incomplete: {
        lostEvents: stats.lost, malformedRecords: stats.malformed, streamGaps: cs.gaps, invalidFrames: cs.invalidFrames,
        requestsWithoutResponse: protocols.reduce((n, p) => n + p.summary.noResponse, 0),
        responsesWithoutRequest: cs.unmatchedResponses,
        unknownProtocolConnections: cs.unknown, unknownProtocolBytes: cs.unknownBytes,
        incompleteRecords: agg.incompleteRecords(), problems: stats.problems,
      },
    };
  }
}

/** Shards count disjoint connections, so their counts add up. */
function sumConnectionStats(parts: readonly ConnectionStats[]): ConnectionStats {
  if (parts.length === 1) return parts[0]!;
  const sum: ConnectionStats = {
    connections: 0, byProtocol: new Map(), unknown: 0, unknownBytes: 0, joined: 0, gaps: 0, invalidFrames: 0, unmatchedResponses: 0,
  };
  for (const p of parts) {
    sum.connections += p.connections;
    sum.unknown += p.unknown;
    sum.unknownBytes += p.unknownBytes;
    sum.joined += p.joined;
    sum.gaps += p.gaps;
    sum.invalidFrames += p.invalidFrames;
    sum.unmatchedResponses += p.unmatchedResponses;
    for (const [name, n] of p.byProtocol) sum.byProtocol.set(name, (sum.byProtocol.get(name) ?? 0) + n);
  }
  return sum;
}

function connectionSummary(cs: ConnectionStats): AnalysisResult['connections'] {
  const byProtocol = [...cs.byProtocol].map(([protocol, count]) => ({ protocol, count }))
    .sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  // Both traced ends of one loopback connection are one connection, not two.
  return { total: cs.connections - cs.joined, byProtocol, bothEndsJoined: cs.joined };
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
