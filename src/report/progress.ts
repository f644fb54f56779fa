/**
 * Progress of a long read, on a terminal: bytes read of the total, rate and time left, on one
 * line of stderr redrawn at most four times a second and cleared at the end. Only when the
 * stream is a TTY, never on a pipe or a file, so logs and the deterministic outputs never see
 * it. It reads the wall clock, which reaches this line and nothing else.
 */
import type { EventSource, RawChunk } from '../capture/source.js';
import { bytesText, durationText } from './units.js';

/** What the line is drawn on: process.stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/** A source that says how far into its file it has read, and the file's size. */
export type PositionedSource = EventSource & { readonly position: number; readonly size: number };

const REDRAW_MS = 250;
/** Carriage return, then erase to the end of the line. */
const CLEAR = '\r\x1b[K';

/** One progress line on `out`, for reading `total` bytes. */
export class Progress {
  private readonly start: number;
  private lastDraw: number;
  private drawn = false;

  constructor(private readonly out: ProgressStream, private readonly total: number, private readonly now: () => number) {
    this.start = now();
    this.lastDraw = this.start;
  }

  /** `done` bytes are read; redraws when the last drawing is old enough. */
  update(done: number): void {
    const t = this.now();
    if (t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    this.drawn = true;
    this.out.write(`${CLEAR}${this.line(done, (t - this.start) / 1000)}`);
  }

  /** Clears the line, so what is written next starts on a clean line. */
  finish(): void {
    if (this.drawn) this.out.write(CLEAR);
    this.drawn = false;
  }

  private line(done: number, seconds: number): string {
    const rate = seconds > 0 ? done / seconds : 0;
    const percent = this.total > 0 ? Math.min(100, Math.floor((100 * done) / this.total)) : 100;
    const parts = [`kcap: read ${bytesText(done)} of ${bytesText(this.total)} (${percent}%)`, `${bytesText(Math.round(rate))}/s`];
    if (rate > 0) parts.push(`${durationText((Math.max(0, this.total - done) / rate) * 1e9)} left`);
    const text = parts.join(', ');
    // A line longer than the terminal would wrap, and \r would then redraw only its tail.
    return this.out.columns ? text.slice(0, this.out.columns - 1) : text;
  }
}

/** A progress line on `out` for reading `source`, when `out` is a terminal. */
export function progressFor(source: PositionedSource, out: ProgressStream, now: () => number = () => performance.now()): Progress | undefined {
  return out.isTTY ? new Progress(out, source.size, now) : undefined;
}

/**
 * The source, with a progress line on `out` while its chunks are read when `out` is a terminal
 * (the source as is otherwise). The line is cleared when reading ends, also by an error.
 */
export function withProgress(source: PositionedSource, out: ProgressStream, now: () => number = () => performance.now()): EventSource {
  if (!out.isTTY) return source;
  return {
    schema: source.schema, machine: source.machine, clock: source.clock, snaplen: source.snaplen, tables: source.tables,
    async *chunks(): AsyncIterable<RawChunk> {
      const progress = new Progress(out, source.size, now);
      try {
        for await (const chunk of source.chunks()) {
          progress.update(source.position);
          yield chunk;
        }
      } finally {
        progress.finish();
      }
    },
  };
}
