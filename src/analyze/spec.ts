/**
 * An analysis request as plain data (filter text instead of a compiled predicate), so that it
 * can cross to worker threads, each of which compiles it the same way.
 */
import { compileNode, compileRecordFilter, splitFilter } from '../filter/index.js';
import type { AnalyzeOptions, TimePoint } from './result.js';

export interface AnalysisSpec {
  /** Filter text in the sysdig language: event fields, L7 fields, or an `and` of both. */
  readonly filter?: string;
  readonly protocols?: readonly string[];
  readonly from?: TimePoint;
  readonly to?: TimePoint;
  readonly top?: number;
}

/** The options a spec asks for; throws FilterError for a bad filter. */
export function compileSpec(spec: AnalysisSpec): AnalyzeOptions {
  const { filter, ...rest } = spec;
  if (filter === undefined) return rest;
  const { events, records } = splitFilter(filter);
  return { ...rest, ...(events ? { filter: compileNode(events) } : {}), ...(records ? { recordFilter: compileRecordFilter(records) } : {}) };
}
