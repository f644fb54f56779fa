/**
 * `kcap record FILTER`: keeps the I/O and TCP events the filter selects, and every event that
 * changes replay state (socket, connect, accept, close, dup, open, fork, exec, exit), so that the
 * file still replays with full thread and fd context — the rule sysdig follows when writing a
 * filtered capture. Selection runs the same conversion `kcap analyze` does.
 */
import type { SourceInfo } from '../capture/source.js';
import type { KEvent } from '../probe/event.js';
import { Replayer } from '../probe/replay.js';

export class RecordSelector {
  private readonly replayer: Replayer;
  private seq = 0;

  constructor(info: SourceInfo, private readonly filter: (ev: KEvent) => boolean) {
    this.replayer = new Replayer(info);
  }

  /** The kept records of `batch` (whole records), concatenated, and how many; may be empty.
   * Kept records next to each other are copied as one run, and a batch kept whole is not copied. */
  select(batch: Uint8Array): { records: Uint8Array; count: number } {
    const runs: number[] = []; // [start, end) pairs into batch
    let count = 0;
    let size = 0;
    this.replayer.chunk({ seq: this.seq++, records: batch, count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 }, (ev) => {
      if ((ev.isIo || ev.category === 'tcp') && !this.filter(ev)) return;
      count++;
      size += ev.length;
      if (runs.length > 0 && runs[runs.length - 1] === ev.offset) runs[runs.length - 1] = ev.offset + ev.length;
      else runs.push(ev.offset, ev.offset + ev.length);
    });
    if (size === batch.length) return { records: batch, count };
    const out = new Uint8Array(size);
    for (let i = 0, at = 0; i < runs.length; i += 2) {
      out.set(batch.subarray(runs[i]!, runs[i + 1]!), at);
      at += runs[i + 1]! - runs[i]!;
    }
    return { records: out, count };
  }
}
