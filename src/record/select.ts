/**
 * `kcap record FILTER`: keeps the I/O and TCP events the filter selects, and every event that
 * changes replay state (socket, connect, accept, close, dup, open, fork, exec, exit), so that the
 * file still replays with full thread and fd context — the rule sysdig follows when writing a
 * filtered capture. Selection runs the same conversion `kcap analyze` does.
 */
import { summarizeRecord, type SourceInfo } from '../capture/index.js';
import type { KEvent } from '../probe/event.js';
import { Replayer } from '../probe/replay.js';

export class RecordSelector {
  private readonly replayer: Replayer;
  private seq = 0;

  constructor(info: SourceInfo, private readonly filter: (ev: KEvent) => boolean) {
    this.replayer = new Replayer(info);
  }

  /**
   * Keeps the selected records of `batch` (whole records, drained in place into the chunk being
   * built): moves them to its start, in order, rewrites `summary` (recordSummary's layout) to
   * describe them alone and returns their length in bytes. Moving in place spares the recorder a
   * batch allocation and two copies per drain.
   */
  compact(batch: Uint8Array, summary: Uint32Array): number {
    const runs: number[] = []; // [start, end) pairs into batch
    summary.fill(0);
    this.replayer.chunk({ seq: this.seq++, records: batch, count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 }, (ev) => {
      if ((ev.isIo || ev.category === 'tcp') && !this.filter(ev)) return;
      summarizeRecord(summary, ev.tsHi, ev.tsLo, ev.cpu);
      if (runs.length > 0 && runs[runs.length - 1] === ev.offset) runs[runs.length - 1] = ev.offset + ev.length;
      else runs.push(ev.offset, ev.offset + ev.length);
    });
    // Every run moves towards the start, never past a run not yet moved.
    let at = 0;
    for (let i = 0; i < runs.length; i += 2) {
      if (runs[i] !== at) batch.copyWithin(at, runs[i]!, runs[i + 1]!);
      at += runs[i + 1]! - runs[i]!;
    }
    return at;
  }
}
