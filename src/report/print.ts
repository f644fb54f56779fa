/**
 * `kcap print` as a library function: replays a source chunk by chunk, renders each selected
 * event as a text line or a JSON object, and hands the text of each chunk to an async sink, so
 * output is written with backpressure and memory stays bounded by one chunk's worth of lines.
 * With -A, connections whose protocol has a dissector print its lines instead (dissection.ts).
 */
import type { EventSource } from '../capture/source.js';
import { Replayer, type ReplayOptions, type ReplayStats } from '../probe/replay.js';
import type { KEvent } from '../probe/event.js';
import { ConnectionDissection } from './dissection.js';
import { formatJson, formatLine, type PayloadStyle } from './event.js';

export interface PrintOptions extends ReplayOptions {
  /** One JSON object per line instead of text. Default false. */
  readonly json?: boolean;
  /** Payload rendering; default 'short'. */
  readonly payload?: PayloadStyle;
}

export type Sink = (text: string) => Promise<void> | void;

export async function printEvents(source: EventSource, sink: Sink, opts: PrintOptions = {}): Promise<ReplayStats> {
  const fmt = { payload: opts.payload ?? 'short' } as const;
  // -A text shows protocols whose bytes raw text hides (HTTP/2) as their dissectors read them.
  const dissection = !opts.json && fmt.payload === 'ascii' ? new ConnectionDissection() : undefined;
  const r = new Replayer(source, dissection === undefined ? opts : { ...opts, observe: dissection.observe });
  const render = opts.json ? formatJson : (ev: KEvent) => formatLine(ev, fmt, dissection?.linesOf(ev));
  for await (const chunk of source.chunks()) {
    let text = '';
    if (chunk.lostBefore > 0) dissection?.lost();
    r.chunk(chunk, (ev) => {
      text += `${render(ev, fmt)}\n`;
    });
    if (text !== '') await sink(text);
  }
  return r.stats;
}

/** The end-of-run summary line (for stderr, so stdout stays the events only). */
export function statsText(s: ReplayStats): string {
  const lines = [`${s.records} records, ${s.events} events, ${s.selected} selected, ${s.dropped} dropped as uninformative, ${s.malformed} malformed, ${s.lost} lost by the kernel`];
  return [...lines, ...s.problems.map((p) => `  ${p}`)].join('\n');
}
