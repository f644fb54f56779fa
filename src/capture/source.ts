/**
 * The one interface between where raw events come from and everything that replays them.
 * A capture file reader and the live recorder both present it, so `kcap analyze FILE` and
 * `kcap record --analyze` run the same code after this point.
 */
import type { ResolvedSchema } from '../schema/schema.js';
import type { MachineInfo, Tables } from './tables.js';

/** A run of raw ring-buffer records, concatenated; each record starts with its u32 length. */
export interface RawChunk {
  /** Sequence number of the chunk in its source, from 0. */
  readonly seq: number;
  readonly records: Uint8Array;
  readonly count: number;
  /** Smallest and largest header ts in the chunk (boot ns). */
  readonly firstTs: bigint;
  readonly lastTs: bigint;
  /** Events the kernel dropped (ring buffer full) between the previous chunk and this one. */
  readonly lostBefore: number;
}

/** How to turn boot-clock ns into UTC: one pair of readings taken back to back. */
export interface ClockAnchor {
  readonly bootNs: bigint;
  readonly realtimeNs: bigint;
}

/** What a source knows before its first event. */
export interface SourceInfo {
  readonly schema: ResolvedSchema;
  readonly machine: MachineInfo;
  readonly clock: ClockAnchor;
  /** Snaplen the recorder used (bytes of payload kept per I/O event). */
  readonly snaplen: number;
  /** Tables snapshotted when recording started. */
  readonly tables: Tables;
}

export interface EventSource extends SourceInfo {
  /** Chunks in capture order. Iterating twice is allowed for file sources, not for live ones. */
  chunks(): AsyncIterable<RawChunk>;
}

/** Boot-clock ns to UTC ns using the source's anchor. */
export function bootToUtcNs(clock: ClockAnchor, bootNs: bigint): bigint {
  return clock.realtimeNs + (bootNs - clock.bootNs);
}
