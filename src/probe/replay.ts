/**
 * The replay pipeline shared by `kcap print`, `kcap analyze` and the live path: frames the raw
 * records of each chunk, converts them (state updated as it goes), applies the filter and hands
 * each selected event to a visitor. Push-style, with one reused KEvent, because the analyzer must
 * keep up with millions of events per second. A capture is untrusted: a bad record is counted and
 * skipped (or, when its length makes framing impossible, the rest of its chunk is), never thrown.
 */
import type { EventSource, RawChunk, SourceInfo } from '../capture/source.js';
import { recordLen } from '../schema/header.generated.js';
import { Converter, type ConvertOptions } from './convert.js';
import type { KEvent } from './event.js';
import { ReplayState } from './state.js';

export interface ReplayOptions extends ConvertOptions {
  /** Only events this returns true for reach the visitor. */
  readonly filter?: (ev: KEvent) => boolean;
  /**
   * Sees every kept event, selected or not, just before the filter: for consumers that follow
   * state the filter must not hide (`kcap print -A` reads each connection's bytes in full).
   */
  readonly observe?: Visitor;
}

export type Visitor = (ev: KEvent) => void;

export interface ReplayStats {
  /** Raw records seen (framed), including dropped and malformed ones. */
  records: number;
  /** Records that became events (before the filter). */
  events: number;
  /** Events the filter selected (= visitor calls). */
  selected: number;
  /** Records dropped as carrying no information. */
  dropped: number;
  /** Records skipped as malformed, and chunks whose tail was unreadable. */
  malformed: number;
  /** Events the kernel reported lost (ring buffer full) before chunks of this source. */
  lost: number;
  /** The first problems found, each naming the chunk and byte offset. */
  problems: string[];
}

const MAX_PROBLEMS = 20;

/** Replays chunks one at a time; usable directly by a live source. */
export class Replayer {
  readonly converter: Converter;
  readonly stats: ReplayStats = { records: 0, events: 0, selected: 0, dropped: 0, malformed: 0, lost: 0, problems: [] };
  private readonly filter: ((ev: KEvent) => boolean) | undefined;
  private readonly observe: Visitor | undefined;
  private readonly headerSize: number;

  constructor(info: SourceInfo, opts: ReplayOptions = {}) {
    this.converter = new Converter(info.schema, new ReplayState(info.tables), info.clock, opts);
    this.filter = opts.filter;
    this.observe = opts.observe;
    this.headerSize = info.schema.headerSize;
  }

  get state(): ReplayState {
    return this.converter.state;
  }

  chunk(chunk: RawChunk, visit: Visitor): void {
    const stats = this.stats;
    const conv = this.converter;
    const filter = this.filter;
    const observe = this.observe;
    const ev = conv.event;
    // A plain view, not the Buffer a reader or the recorder may hand over: subarrays of a Buffer
    // are Buffers, several times dearer to make, and a mix of both kinds slows every access site.
    const bytes = new Uint8Array(chunk.records.buffer, chunk.records.byteOffset, chunk.records.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = bytes.length;
    stats.lost += chunk.lostBefore;
    conv.setChunk(bytes);
    let off = 0;
    while (off < end) {
      const length = end - off >= 4 ? recordLen(view, off) : 0;
      if (length < this.headerSize || length > end - off) {
        this.problem(chunk, off, `record length ${length} does not fit (${end - off} bytes left); rest of chunk skipped`);
        return;
      }
      const verdict = conv.convert(off, length, ++stats.records);
      if (verdict === 'kept') {
        stats.events++;
        if (observe !== undefined) observe(ev);
        if (filter === undefined || filter(ev)) {
          stats.selected++;
          visit(ev);
        }
      } else if (verdict === 'dropped') {
        stats.dropped++;
      } else {
        this.problem(chunk, off, conv.problem);
      }
      off += length;
    }
  }

  private problem(chunk: RawChunk, off: number, what: string): void {
    this.stats.malformed++;
    if (this.stats.problems.length < MAX_PROBLEMS) this.stats.problems.push(`chunk ${chunk.seq} offset ${off}: ${what}`);
  }
}

/** Replays a whole source, calling `visit` for each selected event in capture order. */
export async function replay(source: EventSource, visit: Visitor, opts: ReplayOptions = {}): Promise<ReplayStats> {
  const r = new Replayer(source, opts);
  for await (const chunk of source.chunks()) r.chunk(chunk, visit);
  return r.stats;
}
