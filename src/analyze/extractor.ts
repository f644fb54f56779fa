/**
 * The first half of analysis: raw chunks → the L7 records a report counts. Replays each chunk
 * through the shared conversion, tracks connections (parsing and pairing their traffic), keeps
 * TCP health, and passes on every record that the window, protocol and record filter select,
 * with its connection context and its place in capture order.
 *
 * For parallel analysis each worker runs one extractor over the whole capture (conversion needs
 * every event's state) but parses only its shard of the connections; the records' places let
 * the worker's outputs be merged into exactly the order one extractor would have produced.
 */
import type { RawChunk, SourceInfo } from '../capture/source.js';
import type { KEvent } from '../probe/event.js';
import { Replayer, type ReplayStats } from '../probe/replay.js';
import type { L7Record } from '../protocols/index.js';
import { ConnectionTracker, type ConnContext, type ConnectionStats } from './connections.js';
import type { AnalyzeOptions } from './result.js';
import { CaptureSpan } from './span.js';
import { TcpHealth, type TcpConnHealth, type TcpListener, type TcpTotals } from './tcp.js';

/**
 * Receives a record with its place in capture order: `num` is the record number of the event
 * that completed it (between two numbers for a loss before a chunk, Infinity at the end of the
 * capture); with the connection number it orders every record as one extractor emits them, since
 * the records of one event all belong to one connection, and loss and end flush connections in
 * connection order.
 */
export type PlacedListener = (rec: L7Record, ctx: ConnContext, num: number) => void;

/** Which connections an extractor parses: those whose hash of both endpoints falls in its shard. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** What an extractor knows besides its records. TCP health comes from shard 0 only. */
export interface ExtractorFacts {
  readonly replay: ReplayStats;
  readonly connections: ConnectionStats;
  readonly tcp: { readonly totals: TcpTotals; readonly connections: readonly TcpConnHealth[] } | undefined;
}

export class RecordExtractor {
  readonly span: CaptureSpan;
  private readonly replayer: Replayer;
  private readonly tracker: ConnectionTracker;
  private readonly tcp: TcpHealth | undefined;
  private readonly visit: (ev: KEvent) => void;
  /** Record number of the event being visited. */
  private num = 0;
  private finished = false;

  /** `tcpListeners`: told the TCP facts as they come (shard 0 only, which alone keeps TCP health). */
  constructor(info: SourceInfo, private readonly opts: AnalyzeOptions, private readonly emit: PlacedListener, shard?: Shard,
    tcpListeners?: readonly TcpListener[]) {
    this.span = new CaptureSpan(info.clock, opts.from, opts.to);
    this.replayer = new Replayer(info, opts.filter ? { filter: opts.filter } : {});
    const owns = shard && shard.count > 1 ? (joinKey: string) => shardOf(joinKey, shard.count) === shard.index : undefined;
    this.tracker = new ConnectionTracker((r, ctx) => this.onRecord(r, ctx), owns, this.replayer.state);
    const tcp = (this.tcp = shard === undefined || shard.index === 0 ? new TcpHealth(tcpListeners) : undefined);
    const tracker = this.tracker;
    this.visit = (ev) => {
      this.num = ev.num;
      tracker.onEvent(ev);
      if (tcp && ev.category === 'tcp') tcp.onEvent(ev);
    };
  }

  /** Takes the next chunk, in capture order. */
  chunk(chunk: RawChunk): void {
    if (this.finished) throw new Error('Analyzer: chunk() after finish()');
    this.span.observe(chunk);
    if (chunk.lostBefore > 0) {
      this.num = this.replayer.stats.records + 0.5;
      this.tracker.onLoss(chunk.firstTs);
    }
    this.replayer.chunk(chunk, this.visit);
  }

  /** End of capture: flushes every connection. */
  finish(top: number): ExtractorFacts {
    if (this.finished) throw new Error('Analyzer: finish() called twice');
    this.finished = true;
    this.num = Infinity;
    this.tracker.finish();
    const tcp = this.tcp;
    return {
      replay: this.replayer.stats, connections: this.tracker.stats,
      tcp: tcp && { totals: tcp.totals(), connections: tcp.connections().slice(0, top) },
    };
  }

  private onRecord(r: L7Record, ctx: ConnContext): void {
    const opts = this.opts;
    if (!this.span.inWindow(r.startTs)) return;
    if (opts.protocols !== undefined && !opts.protocols.includes(r.protocol)) return;
    if (opts.recordFilter !== undefined && !opts.recordFilter(r, ctx)) return;
    this.emit(r, ctx, this.num);
  }
}

/** FNV-1a of the key, mod `count`: the same shard for both ends of a connection, on every run. */
function shardOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}
