/**
 * An analysis request as plain data (filter text instead of a compiled predicate), so that it
 * can cross to worker threads, each of which compiles it the same way.
 */
import { compileFilter } from '../filter/index.js';
import type { AnalyzeOptions, TimePoint } from './result.js';

export interface AnalysisSpec {
  /** Filter text in the sysdig language (already validated by whoever wrote the spec). */
  readonly filter?: string;
  readonly protocols?: readonly string[];
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  readonly top?: number;
}

export function compileSpec(spec: AnalysisSpec): AnalyzeOptions {
  const { filter, ...rest } = spec;
  return filter === undefined ? rest : { ...rest, filter: compileFilter(filter) };
}
