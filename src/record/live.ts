/**
 * The live side of the EventSource interface: the recorder pushes each drained batch here as it
 * writes it to the file, and whatever consumes `chunks()` (the analyzer, for `kcap record
 * --analyze`) sees the same records in the same order as a later reader of the file.
 */
import { countRecords, recordTs } from '../capture/chunk.js';
import type { EventSource, RawChunk, SourceInfo } from '../capture/source.js';

export class LiveSource implements EventSource {
  private readonly queue: RawChunk[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private seq = 0;
  private iterated = false;

  constructor(private readonly info: SourceInfo) {}

  get schema(): SourceInfo['schema'] { return this.info.schema; }
  get machine(): SourceInfo['machine'] { return this.info.machine; }
  get clock(): SourceInfo['clock'] { return this.info.clock; }
  get snaplen(): number { return this.info.snaplen; }
  get tables(): SourceInfo['tables'] { return this.info.tables; }

  /** A batch of whole records, with the kernel's losses since the previous batch. */
  push(records: Uint8Array, lostBefore: number): void {
    const { count, firstTs, lastTs } = scan(records);
    this.queue.push({ seq: this.seq++, records, count, firstTs, lastTs, lostBefore });
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *chunks(): AsyncIterable<RawChunk> {
    if (this.iterated) throw new Error('a live source can be iterated once');
    this.iterated = true;
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }
}

/** Count and time range of whole records (the recorder's drained batches always are). */
function scan(b: Uint8Array): { count: number; firstTs: bigint; lastTs: bigint } {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let firstTs = 0n;
  let lastTs = 0n;
  for (let off = 0, n = 0; off < b.length; off += view.getUint32(off, true), n++) {
    const ts = recordTs(view, off);
    if (n === 0 || ts < firstTs) firstTs = ts;
    if (ts > lastTs) lastTs = ts;
  }
  return { count: countRecords(b), firstTs, lastTs };
}
