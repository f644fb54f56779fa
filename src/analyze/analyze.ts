/**
 * `kcap analyze` as a library function: drives an Analyzer with every chunk of a source, in
 * capture order, and returns its result. The live recorder drives the same Analyzer from its
 * drain loop instead, so `kcap record --analyze` and `kcap analyze FILE` print the same report.
 */
import type { EventSource } from '../capture/source.js';
import { Analyzer, type RecordListener } from './analyzer.js';
import type { AnalysisResult, AnalyzeOptions } from './result.js';

export type {
  AnalysisResult, AnalyzeOptions, Incompleteness, SlowRequest, TimePoint,
} from './result.js';

export async function analyze(source: EventSource, opts: AnalyzeOptions = {}, onRecord?: RecordListener): Promise<AnalysisResult> {
  const analyzer = new Analyzer(source, opts);
  if (onRecord) analyzer.onRecord(onRecord);
  for await (const chunk of source.chunks()) analyzer.chunk(chunk);
  return analyzer.finish();
}
