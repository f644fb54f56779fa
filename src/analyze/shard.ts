/**
 * One shard of a parallel analysis, wherever it runs (the main thread takes shard 0, worker
 * threads the others): a RecordExtractor for its connections and an Aggregator of its records.
 * Each chunk gives a batch — the records with their places in capture order when the main
 * thread streams them, else none (an empty batch still paces the main thread) — and the end
 * gives the shard's facts and aggregation.
 */
import type { RawChunk, SourceInfo } from '../capture/source.js';
import type { L7Record } from '../protocols/index.js';
import { Aggregator, type AggregatorState } from './aggregate.js';
import type { ConnContext } from './connections.js';
import { RecordExtractor, type ExtractorFacts, type Shard } from './extractor.js';
import type { CaptureSpan } from './span.js';
import { compileSpec, type AnalysisSpec } from './spec.js';
import type { TcpListener } from './tcp.js';

/** One chunk's selected records from one shard, in the order it emitted them. */
export interface Batch {
  readonly type: 'batch';
  readonly records: L7Record[];
  /** Each record's place (see PlacedListener) and index into `contexts`. */
  readonly nums: number[];
  readonly ctxOf: number[];
  /** Each connection context once per batch, so a context crosses threads once per chunk. */
  readonly contexts: ConnContext[];
}

export interface Finished {
  readonly facts: ExtractorFacts;
  readonly aggregate: AggregatorState;
}

export interface ShardSetup {
  readonly spec: AnalysisSpec;
  readonly shard: Shard;
  readonly top: number;
  /** Whether to collect the records themselves (the main thread has record-stream listeners). */
  readonly stream: boolean;
}

export class ShardRun {
  private readonly extractor: RecordExtractor;
  private readonly aggregator: Aggregator;
  private batch: Batch = newBatch();
  private contextIndex = new Map<ConnContext, number>();

  /** `onTcp`: the TCP facts, for shard 0 (which keeps TCP health) run on the main thread. */
  constructor(info: SourceInfo, private readonly setup: ShardSetup, onTcp?: TcpListener) {
    this.aggregator = new Aggregator(setup.top);
    this.extractor = new RecordExtractor(info, compileSpec(setup.spec), (rec, ctx, num) => this.place(rec, ctx, num), setup.shard,
      onTcp ? [onTcp] : []);
  }

  /** The capture's span as this shard's replay saw it (the same for every shard). */
  get span(): CaptureSpan {
    return this.extractor.span;
  }

  chunk(chunk: RawChunk): Batch {
    this.extractor.chunk(chunk);
    return this.take();
  }

  /** The batch of what the end of the capture flushed, and the shard's facts and aggregation. */
  finish(): { batch: Batch; finished: Finished } {
    const facts = this.extractor.finish(this.setup.top);
    return { batch: this.take(), finished: { facts, aggregate: this.aggregator.toState() } };
  }

  private place(rec: L7Record, ctx: ConnContext, num: number): void {
    this.aggregator.add(rec, ctx);
    if (!this.setup.stream) return;
    const batch = this.batch;
    let at = this.contextIndex.get(ctx);
    if (at === undefined) {
      at = batch.contexts.length;
      batch.contexts.push(ctx);
      this.contextIndex.set(ctx, at);
    }
    batch.records.push(rec);
    batch.nums.push(num);
    batch.ctxOf.push(at);
  }

  private take(): Batch {
    const batch = this.batch;
    this.batch = newBatch();
    this.contextIndex = new Map();
    return batch;
  }
}

function newBatch(): Batch {
  return { type: 'batch', records: [], contexts: [], nums: [], ctxOf: [] };
}
