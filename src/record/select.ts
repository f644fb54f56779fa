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

  /** The kept records of `batch` (whole records), concatenated; may be empty. */
  select(batch: Uint8Array): Uint8Array {
    const kept: Uint8Array[] = [];
    let size = 0;
    this.replayer.chunk({ seq: this.seq++, records: batch, count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 }, (ev) => {
      if ((ev.isIo || ev.category === 'tcp') && !this.filter(ev)) return;
      kept.push(ev.bytes.subarray(ev.offset, ev.offset + ev.length));
      size += ev.length;
    });
    const out = new Uint8Array(size);
    let at = 0;
    for (const k of kept) {
      out.set(k, at);
      at += k.length;
    }
    return out;
  }
}
