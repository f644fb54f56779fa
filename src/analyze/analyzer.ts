/**
 * The Analyzer: one push-style pipeline from raw chunks to an AnalysisResult. Whoever has the
 * chunks drives it — the capture reader (`kcap analyze`), the recorder as it drains
 * (`kcap record --analyze`) — by calling `chunk()` for each in capture order, then `finish()`.
 * It joins the two halves of analysis in one thread: the RecordExtractor (replay, connections,
 * protocols) and the ReportBuilder (aggregation and the record stream). Every record the report
 * counts goes to each `onRecord` listener as it completes, so a listener (a per-request view, an
 * export) sees exactly what the report counts; each TCP fact goes to the `onTcp` listeners.
 * parallel.ts runs the same halves over threads.
 */
import type { RawChunk, SourceInfo } from '../capture/source.js';
import { RecordExtractor } from './extractor.js';
import { ReportBuilder, type RecordListener } from './report-builder.js';
import { DEFAULT_TOP, type AnalysisResult, type AnalyzeOptions } from './result.js';
import type { TcpListener } from './tcp.js';

export type { RecordListener } from './report-builder.js';

export class Analyzer {
  private readonly extractor: RecordExtractor;
  private readonly builder: ReportBuilder;
  private readonly top: number;

  private readonly tcpListeners: TcpListener[] = [];

  constructor(info: SourceInfo, opts: AnalyzeOptions = {}) {
    this.top = opts.top ?? DEFAULT_TOP;
    const builder = (this.builder = new ReportBuilder(info, this.top));
    this.extractor = new RecordExtractor(info, opts, (rec, ctx) => builder.add(rec, ctx), undefined, this.tcpListeners);
  }

  /** Subscribes to the record stream: every record the report counts, as it completes. */
  onRecord(listener: RecordListener): void {
    this.builder.onRecord(listener);
  }

  /** Subscribes to the TCP facts (retransmits, resets, RTT samples, handshakes), in capture order. */
  onTcp(listener: TcpListener): void {
    this.tcpListeners.push(listener);
  }

  /** Analyzes the next chunk of the capture, in capture order. */
  chunk(chunk: RawChunk): void {
    this.extractor.chunk(chunk);
  }

  /** Ends the capture: flushes every connection and returns the sorted result. */
  finish(): AnalysisResult {
    const facts = this.extractor.finish(this.top);
    return this.builder.result(this.extractor.span, [facts]);
  }
}
