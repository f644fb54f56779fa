/**
 * `kcap record FILTER`: keeps the I/O and TCP events the filter selects, and every event that
 * changes replay state (socket, connect, accept, close, dup, open, fork, exec, exit), so that the
 * file still replays with full thread and fd context — the rule sysdig follows when writing a
 * filtered capture. Selection runs the same conversion `kcap analyze` does.
 */
import { RECORD_SUMMARY_FIXED as SUMMARY_FIXED, type SourceInfo } from '../capture/index.js';
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
      countKept(summary, ev);
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

/** Counts a kept event into the summary: first and last timestamp (kept as u32 pairs, which a
 * double would round after 104 days of uptime) and records per CPU. */
function countKept(summary: Uint32Array, ev: KEvent): void {
  const { tsHi: hi, tsLo: lo } = ev;
  const none = summary[0] === 0;
  if (none || hi < summary[2]! || (hi === summary[2]! && lo < summary[1]!)) {
    summary[1] = lo;
    summary[2] = hi;
  }
  if (none || hi > summary[4]! || (hi === summary[4]! && lo > summary[3]!)) {
    summary[3] = lo;
    summary[4] = hi;
  }
  summary[0]!++;
  if (SUMMARY_FIXED + ev.cpu < summary.length) summary[SUMMARY_FIXED + ev.cpu]!++;
}
