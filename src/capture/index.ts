/**
 * The capture package's public surface: write a .kcap file, open one as an EventSource, verify
 * or summarise it. Everything else in src/capture is internal.
 */
export { CaptureError, type CaptureErrorCode } from './errors.js';
export { CaptureWriter, DEFAULT_CHUNK_SIZE, recordSummary, summarizeRecord, summaryRange, type WriterOptions } from './writer.js';
export { CaptureReader, openCapture, type OpenOptions, type TimeRange } from './reader.js';
export { verifyCapture, type CaptureStatus, type VerifyReport } from './verify.js';
export { summarize, utcIso, type CaptureSummary, type EventTypeCount } from './summary.js';
export type { Problem } from './blocks.js';
export type { CaptureHeader, CaptureStats, CpuStats } from './payloads.js';
export { FORMAT_MAJOR, FORMAT_MINOR, LIMITS, type IndexEntry } from './format.js';
export * from './source.js';
export * from './tables.js';
