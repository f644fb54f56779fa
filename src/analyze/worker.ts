/**
 * A worker thread of parallel analysis (parallel.ts): runs one RecordExtractor, for its shard of
 * the connections, over the chunks the main thread posts, and aggregates the records it selects.
 * After each chunk it posts back a batch: the records with their places in capture order when the
 * main thread streams them, else none (the batch still paces the main thread). At the end it
 * posts its facts and its aggregation.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openCapture } from '../capture/index.js';
import type { RawChunk } from '../capture/source.js';
import type { L7Record } from '../protocols/index.js';
import { Aggregator } from './aggregate.js';
import type { ConnContext } from './connections.js';
import { RecordExtractor } from './extractor.js';
import type { Batch, ToWorker, WorkerSetup } from './parallel.js';
import { compileSpec } from './spec.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const info = await openCapture(setup.path);
let batch: Batch = newBatch();
let contextIndex = new Map<ConnContext, number>();
const aggregator = new Aggregator(setup.top);

function newBatch(): Batch {
  return { type: 'batch', records: [], contexts: [], nums: [], ctxOf: [] };
}

function place(rec: L7Record, ctx: ConnContext, num: number): void {
  aggregator.add(rec, ctx);
  if (!setup.stream) return;
  let at = contextIndex.get(ctx);
  if (at === undefined) {
    at = batch.contexts.length;
    batch.contexts.push(ctx);
    contextIndex.set(ctx, at);
  }
  batch.records.push(rec);
  batch.nums.push(num);
  batch.ctxOf.push(at);
}

/** Posts the records of the chunk just processed; contexts are sent once per batch. */
function flush(): void {
  port.postMessage(batch);
  batch = newBatch();
  contextIndex = new Map();
}

const extractor = new RecordExtractor(info, compileSpec(setup.spec), place, setup.shard);
port.on('message', (m: ToWorker) => {
  if (m.type === 'chunk') {
    extractor.chunk(m.chunk as RawChunk);
    flush();
    return;
  }
  const facts = extractor.finish(setup.top);
  flush();
  port.postMessage({ type: 'done', facts, aggregate: aggregator.toState() });
  void info.close().then(() => port.close());
});
