/**
 * `--jobs N`: analysis of a capture file over N worker threads, with the same bytes of output as
 * one thread. The main thread reads and decompresses each chunk once, into shared memory that
 * every worker sees without a copy. Each worker replays every chunk (conversion needs the state
 * all events build) but tracks and parses only its shard of the connections (worker.ts), and
 * posts back the records it selected with their places in capture order. The main thread merges
 * each chunk's records from all workers by place — the order one thread would have produced —
 * and aggregates them, so the report and the record stream do not depend on N. At most WINDOW
 * chunks are in flight, which bounds memory whatever the capture's size.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CaptureReader } from '../capture/index.js';
import type { RawChunk } from '../capture/source.js';
import type { L7Record } from '../protocols/index.js';
import type { ConnContext } from './connections.js';
import type { ExtractorFacts, Shard } from './extractor.js';
import { ReportBuilder, type RecordListener } from './report-builder.js';
import type { AnalysisResult } from './result.js';
import { CaptureSpan } from './span.js';
import type { AnalysisSpec } from './spec.js';

/** Chunks posted to the workers and not yet merged. */
const WINDOW = 4;

export interface WorkerSetup {
  readonly path: string;
  readonly spec: AnalysisSpec;
  readonly shard: Shard;
  readonly top: number;
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

type FromWorker = Batch | { readonly type: 'done'; readonly facts: ExtractorFacts };

/** Worker threads to use by default: one per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

export async function analyzeInParallel(reader: CaptureReader, spec: AnalysisSpec, jobs: number,
  onRecord?: RecordListener): Promise<AnalysisResult> {
  const top = spec.top ?? 10;
  const span = new CaptureSpan(reader.clock, spec.from, spec.to);
  const builder = new ReportBuilder(reader, top);
  if (onRecord) builder.onRecord(onRecord);
  const workers = Array.from({ length: jobs }, (_, index) => new ShardWorker({ path: reader.path, spec, top, shard: { index, count: jobs } }));
  try {
    const merge = async (): Promise<void> => mergeInto(builder, await Promise.all(workers.map((w) => w.nextBatch())));
    let inFlight = 0;
    for await (const chunk of reader.chunks()) {
      span.observe(chunk);
      const shared = { ...chunk, records: sharedCopy(chunk.records) };
      for (const w of workers) w.post({ type: 'chunk', chunk: shared });
      if (++inFlight > WINDOW) {
        await merge();
        inFlight--;
      }
    }
    for (const w of workers) w.post({ type: 'end' });
    // The batches still in flight, then the one each worker posts as it finishes.
    for (; inFlight >= 0; inFlight--) await merge();
    const facts = await Promise.all(workers.map((w) => w.facts()));
    return builder.result(span, facts);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

function sharedCopy(bytes: Uint8Array): Uint8Array {
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  return shared;
}

/** Feeds one chunk's batches to the builder in capture order: by place, then connection. */
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
  for (const o of order) builder.add(o.rec, o.ctx);
}

/** One worker thread and the messages it has sent that were not taken yet. */
class ShardWorker {
  private readonly worker: Worker;
  private readonly batches: Batch[] = [];
  private done: ExtractorFacts | undefined;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(setup: WorkerSetup) {
    this.worker = startWorker(setup);
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'batch') this.batches.push(m);
      else this.done = m.facts;
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

  async facts(): Promise<ExtractorFacts> {
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
