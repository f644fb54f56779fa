/**
 * `--jobs N`: analysis of a capture file over N worker threads, with the same bytes of output as
 * one thread. The main thread reads and decompresses each chunk once, into shared memory that
 * every worker sees without a copy. Each worker replays every chunk (conversion needs the state
 * all events build) but tracks, parses and aggregates only its shard of the connections
 * (worker.ts); the main thread merges the aggregations at the end (merging is exact and does not
 * depend on order), so the report does not depend on N. When the record stream has listeners,
 * workers also post each chunk's records with their places in capture order, and the main thread
 * merges them by place into the order one thread would have produced. At most WINDOW chunks are
 * in flight, which bounds memory whatever the capture's size.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CaptureReader } from '../capture/index.js';
import type { RawChunk } from '../capture/source.js';
import type { L7Record } from '../protocols/index.js';
import type { AggregatorState } from './aggregate.js';
import type { ConnContext } from './connections.js';
import type { ExtractorFacts, Shard } from './extractor.js';
import type { AnalysisHooks } from './analyze.js';
import { ReportBuilder } from './report-builder.js';
import { DEFAULT_TOP, type AnalysisResult } from './result.js';
import { CaptureSpan } from './span.js';
import type { AnalysisSpec } from './spec.js';

/** Chunks posted to the workers and not yet merged. */
const WINDOW = 4;

export interface WorkerSetup {
  readonly path: string;
  readonly spec: AnalysisSpec;
  readonly shard: Shard;
  readonly top: number;
  /** Whether to post the records themselves (the main thread has record-stream listeners). */
  readonly stream: boolean;
}

export type ToWorker = { readonly type: 'chunk'; readonly chunk: RawChunk } | { readonly type: 'end' };

/** One chunk's selected records from one worker, in the order it emitted them. */
export interface Batch {
  readonly type: 'batch';
  readonly records: L7Record[];
  /** Each record's place (see PlacedListener) and index into `contexts`. */
  readonly nums: number[];
  readonly ctxOf: number[];
  readonly contexts: ConnContext[];
}

interface Finished {
  readonly facts: ExtractorFacts;
  readonly aggregate: AggregatorState;
}

type FromWorker = Batch | ({ readonly type: 'done' } & Finished);

/** Worker threads to use by default: one per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

export async function analyzeInParallel(reader: CaptureReader, spec: AnalysisSpec, jobs: number,
  hooks: AnalysisHooks = {}): Promise<AnalysisResult> {
  const top = spec.top ?? DEFAULT_TOP;
  const span = new CaptureSpan(reader.clock, spec.from, spec.to);
  const builder = new ReportBuilder(reader, top);
  if (hooks.onRecord) builder.onRecord(hooks.onRecord);
  const stream = builder.streaming;
  const workers = Array.from({ length: jobs }, (_, index) => new ShardWorker({ path: reader.path, spec, top, stream, shard: { index, count: jobs } }));
  try {
    const merge = async (): Promise<void> => mergeInto(builder, await Promise.all(workers.map((w) => w.nextBatch())));
    let inFlight = 0;
    for await (const chunk of reader.chunks({}, true)) {
      await hooks.onChunk?.();
      span.observe(chunk);
      // Its records are in shared memory: posting shares them instead of copying.
      for (const w of workers) w.post({ type: 'chunk', chunk });
      if (++inFlight > WINDOW) {
        await merge();
        inFlight--;
      }
    }
    for (const w of workers) w.post({ type: 'end' });
    // The batches still in flight, then the one each worker posts as it finishes.
    for (; inFlight >= 0; inFlight--) await merge();
    const finished = await Promise.all(workers.map((w) => w.finished()));
    for (const f of finished) builder.absorb(f.aggregate);
    return builder.result(span, finished.map((f) => f.facts));
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** Streams one chunk's batches in capture order: by place, then connection. */
function mergeInto(builder: ReportBuilder, batches: readonly Batch[]): void {
  const order: { num: number; conn: number; rec: L7Record; ctx: ConnContext }[] = [];
  for (const b of batches) {
    for (let i = 0; i < b.records.length; i++) {
      const ctx = b.contexts[b.ctxOf[i]!]!;
      order.push({ num: b.nums[i]!, conn: ctx.conn, rec: b.records[i]!, ctx });
    }
  }
  // Stable: one connection's records of one event keep the order they were emitted in.
  if (batches.length > 1) order.sort((a, b) => a.num - b.num || a.conn - b.conn);
  for (const o of order) builder.stream(o.rec, o.ctx);
}

/** One worker thread and the messages it has sent that were not taken yet. */
class ShardWorker {
  private readonly worker: Worker;
  private readonly batches: Batch[] = [];
  private done: Finished | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(setup: WorkerSetup) {
    this.worker = startWorker(setup);
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'batch') this.batches.push(m);
      else this.done = m;
      this.wake?.();
    });
    this.worker.on('error', (e) => { this.failure = e; this.wake?.(); });
    this.worker.on('exit', (code) => {
      if (this.done === undefined) this.failure ??= new Error(`analysis worker exited with code ${code} before finishing`);
      this.wake?.();
    });
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  async nextBatch(): Promise<Batch> {
    await this.until(() => this.batches.length > 0);
    return this.batches.shift()!;
  }

  async finished(): Promise<Finished> {
    await this.until(() => this.done !== undefined);
    return this.done!;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }
}

/**
 * Starts the worker's module: compiled JavaScript next to this file, or, when running from the
 * TypeScript sources under tsx (tests, benches), worker.ts through tsx's loader, which a worker
 * thread does not inherit.
 */
function startWorker(setup: WorkerSetup): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: setup });
}
