/**
 * A worker thread of parallel analysis (parallel.ts): runs one shard (shard.ts) over the chunks
 * the main thread posts, posting back a batch after each, and at the end its last batch, then its
 * facts and aggregation.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ToWorker, WorkerSetup } from './parallel.js';
import { ShardRun } from './shard.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const run = new ShardRun(setup.info, setup);
port.on('message', (m: ToWorker) => {
  if (m.type === 'chunk') {
    port.postMessage(run.chunk(m.chunk));
    return;
  }
  const { batch, finished } = run.finish();
  port.postMessage(batch);
  port.postMessage({ type: 'done', ...finished });
  port.close();
});
