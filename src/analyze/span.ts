/**
 * A capture's time span as analysis sees it: the first event in capture order (the origin of
 * every capture-relative time, and of a `--from`/`--to` window given as a duration), and the
 * smallest and largest record timestamps. The origin is the first record of the first non-empty
 * chunk, not a chunk minimum, which depends on where chunks were cut: a live source and its file
 * must agree.
 */
import { recordTs } from '../capture/chunk.js';
import { bootToUtcNs, type ClockAnchor, type RawChunk } from '../capture/source.js';
import type { TimePoint } from './result.js';

/** The window as ns after the first event, null where open. */
export interface Window {
  readonly fromNs: number | null;
  readonly toNs: number | null;
}

export class CaptureSpan {
  /** Boot ns of the first event (the clock anchor until one is seen). */
  base: bigint;
  firstTs: bigint | undefined;
  lastTs = 0n;
  window: Window = { fromNs: null, toNs: null };

  constructor(private readonly clock: ClockAnchor, private readonly from?: TimePoint, private readonly to?: TimePoint) {
    this.base = clock.bootNs;
  }

  /** Takes in the next chunk, in capture order. */
  observe(chunk: RawChunk): void {
    if (chunk.count === 0) return;
    if (this.firstTs === undefined) this.start(chunk);
    if (this.firstTs === undefined || chunk.firstTs < this.firstTs) this.firstTs = chunk.firstTs;
    if (chunk.lastTs > this.lastTs) this.lastTs = chunk.lastTs;
  }

  /** Whether a request that started at boot ns `ts` is inside the window. */
  inWindow(ts: bigint): boolean {
    const { fromNs, toNs } = this.window;
    if (fromNs === null && toNs === null) return true;
    const t = Number(ts - this.base);
    return (fromNs === null || t >= fromNs) && (toNs === null || t < toNs);
  }

  private start(chunk: RawChunk): void {
    const records = chunk.records;
    this.base = recordTs(new DataView(records.buffer, records.byteOffset, records.byteLength), 0);
    const baseUtc = bootToUtcNs(this.clock, this.base);
    this.window = { fromNs: relative(this.from, baseUtc), toNs: relative(this.to, baseUtc) };
  }
}

/** A window end as ns after the first event (whose UTC time is baseUtc), or null when open. */
function relative(p: TimePoint | undefined, baseUtc: bigint): number | null {
  if (p === undefined) return null;
  return 'afterStartNs' in p ? p.afterStartNs : Number(p.utcNs - baseUtc);
}
