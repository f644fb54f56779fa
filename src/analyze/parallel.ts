/**
 * `--jobs N`: analysis of a capture file on N threads (the main thread and N-1 workers), with the
 * same bytes of output as one. The main thread reads and decompresses each chunk once, into
 * shared memory that every worker sees without a copy. Each thread replays every chunk
 * (conversion needs the state all events build) but tracks, parses and aggregates only its shard
 * of the connections (shard.ts; the main thread runs shard 0); the main thread merges the
 * aggregations at the end (merging is exact and does not depend on order), so the report does
 * not depend on N. When the record stream has listeners, each shard also gives each chunk's
 * records with their places in capture order, and the main thread merges them by place into the
 * order one thread would have produced. At most WINDOW chunks are in flight, which bounds memory
 * whatever the capture's size.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CaptureReader } from '../capture/index.js';
import type { RawChunk, SourceInfo } from '../capture/source.js';
import type { L7Record } from '../protocols/index.js';
import type { ConnContext } from './connections.js';
import type { AnalysisHooks } from './analyze.js';
import { ReportBuilder } from './report-builder.js';
import { DEFAULT_TOP, type AnalysisResult } from './result.js';
import { ShardRun, type Batch, type Finished, type ShardSetup } from './shard.js';
import type { AnalysisSpec } from './spec.js';

/** Chunks posted to the workers and not yet merged. */
const WINDOW = 4;

/** A worker's shard, and what the capture says before its first event (plain data, cloned). */
export interface WorkerSetup extends ShardSetup {
  readonly info: SourceInfo;
}

export type ToWorker = { readonly type: 'chunk'; readonly chunk: RawChunk } | { readonly type: 'end' };

type FromWorker = Batch | ({ readonly type: 'done' } & Finished);

/**
 * Chunks (of about 1 MiB raw) a capture needs per thread before another thread pays: every
 * thread replays every chunk, and starting one costs about what replaying this many saves
 * (measured on redis-benchmark captures, bench/results.md).
 */
const CHUNKS_PER_THREAD = 256;

/** Threads for a capture of `chunks` chunks when none were asked for: one per core, fewer for a small capture. */
export function defaultJobs(chunks: number): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(chunks / CHUNKS_PER_THREAD)));
}

export async function analyzeInParallel(reader: CaptureReader, spec: AnalysisSpec, jobs: number,
  hooks: AnalysisHooks = {}): Promise<AnalysisResult> {
  const top = spec.top ?? DEFAULT_TOP;
  const builder = new ReportBuilder(reader, top);
  if (hooks.onRecord) builder.onRecord(hooks.onRecord);
  const stream = builder.streaming;
  const setup = (index: number): ShardSetup => ({ spec, top, stream, shard: { index, count: jobs } });
  // The main thread is shard 0: on as many cores as jobs, it would otherwise mostly wait.
  const local = new ShardRun(reader, setup(0), hooks.onTcp);
  const localBatches: Batch[] = [];
  const workers = Array.from({ length: jobs - 1 }, (_, i) => new ShardWorker({ ...setup(i + 1), info: sourceInfo(reader) }));
  try {
    const merge = async (): Promise<void> => {
      const remote = await Promise.all(workers.map((w) => w.nextBatch()));
      mergeInto(builder, [localBatches.shift()!, ...remote]);
    };
    let inFlight = 0;
    for await (const chunk of reader.chunks({}, true)) {
      await hooks.onChunk?.();
      // Its records are in shared memory: posting shares them instead of copying.
      for (const w of workers) w.post({ type: 'chunk', chunk });
      localBatches.push(local.chunk(chunk));
      if (++inFlight > WINDOW) {
        await merge();
        inFlight--;
      }
    }
    for (const w of workers) w.post({ type: 'end' });
    const end = local.finish();
    localBatches.push(end.batch);
    // The batches still in flight, then the one each shard gives as it finishes.
    for (; inFlight >= 0; inFlight--) await merge();
    const finished = [end.finished, ...await Promise.all(workers.map((w) => w.finished()))];
    for (const f of finished) builder.absorb(f.aggregate);
    return builder.result(local.span, finished.map((f) => f.facts));
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

function sourceInfo(r: SourceInfo): SourceInfo {
  return { schema: r.schema, machine: r.machine, clock: r.clock, snaplen: r.snaplen, tables: r.tables };
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
