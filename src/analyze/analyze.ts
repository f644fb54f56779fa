/**
 * `kcap analyze` as a library function: drives an Analyzer with every chunk of a source, in
 * capture order, and returns its result. The live recorder drives the same Analyzer from its
 * drain loop instead, so `kcap record --analyze` and `kcap analyze FILE` print the same report.
 */
import type { CaptureReader } from '../capture/index.js';
import type { EventSource } from '../capture/source.js';
import { Analyzer, type RecordListener } from './analyzer.js';
import { analyzeInParallel, defaultJobs } from './parallel.js';
import type { AnalysisResult, AnalyzeOptions } from './result.js';
import { compileSpec, type AnalysisSpec } from './spec.js';
import type { TcpListener } from './tcp.js';

export type { AnalysisSpec } from './spec.js';
export type { TcpFact, TcpListener } from './tcp.js';
export type {
  AnalysisResult, AnalyzeOptions, Incompleteness, SlowRequest, TimePoint,
} from './result.js';

/** What a caller of analysis can listen to besides the result. */
export interface AnalysisHooks {
  /** The record stream: every record the report counts, in capture order. */
  readonly onRecord?: RecordListener;
  /** The TCP facts (retransmits, resets, RTT samples, handshakes), in capture order. */
  readonly onTcp?: TcpListener;
  /** After each chunk is read, before it is analyzed (a progress line; a writer of the records
   * streamed so far, whose promise the next read waits for). */
  readonly onChunk?: () => void | Promise<void>;
}

export async function analyze(source: EventSource, opts: AnalyzeOptions = {}, hooks: AnalysisHooks = {}): Promise<AnalysisResult> {
  const analyzer = new Analyzer(source, opts);
  if (hooks.onRecord) analyzer.onRecord(hooks.onRecord);
  if (hooks.onTcp) analyzer.onTcp(hooks.onTcp);
  for await (const chunk of source.chunks()) {
    await hooks.onChunk?.();
    analyzer.chunk(chunk);
  }
  return analyzer.finish();
}

/**
 * A capture file analyzed on `jobs` threads, or when undefined on as many as pay for its size
 * (defaultJobs); never more than it has chunks. The result is the same for every number.
 */
export async function analyzeCapture(reader: CaptureReader, spec: AnalysisSpec, jobs: number | undefined, hooks: AnalysisHooks = {}): Promise<AnalysisResult> {
  const chunks = reader.index.length;
  const n = Math.min(jobs ?? defaultJobs(chunks), chunks);
  return n > 1 ? analyzeInParallel(reader, spec, n, hooks) : analyze(reader, compileSpec(spec), hooks);
}
