/**
 * HTTP/2 for the eye: the dissector behind `kcap print -A`, which shows each read/write of an
 * HTTP/2 connection as its frames (type, stream, flags, DATA bytes, SETTINGS pairs, error names)
 * and its header blocks decoded, since raw HPACK bytes tell a reader nothing.
 *
 * It reuses the analysis path rather than a second parser: the shared engine (buffering, skipped
 * payloads, gaps, resync, the maxBuffer bound) drives one Http2Framer per direction, the two
 * sharing an Http2ConnState, and each direction's header blocks go through its own HpackDecoder,
 * created joined-mid-way when the capture did not see the client preface. Each framer is wrapped
 * so that every step it takes is seen with the 9 header bytes it stood on: that is where the wire
 * frame's own flags and length are (the framer joins HEADERS and CONTINUATIONs into one block,
 * and the engine hands the payload it skips to nobody).
 *
 * Lines come out when the engine takes a step, so a frame appears under the read that completed
 * it (a control frame or header block) or that began it (DATA, whose later bytes are marked as
 * its continuation under the reads that carry them).
 */
import { matchAscii } from '../bytes.js';
import { openParser } from '../engine.js';
import type {
  ConnectionParser, Direction, DissectLine, Dissector, Framer, Pairer, Step,
} from '../types.js';
import { Http2Framer, MAX_HEADER_BLOCK, newHttp2ConnState, streamId, u24 } from './frames.js';
import { HpackDecoder, type Header } from './hpack.js';
import {
  CLIENT_PREFACE, CONTINUATION, DEFINED_FLAGS, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM,
  FLAG_PADDED, FLAG_PRIORITY, FRAME_HEADER, PING, SETTINGS, SETTINGS_HEADER_TABLE_SIZE, errorName,
} from './types.js';
import type { H2Frame, Http2ConnState, Setting } from './types.js';

const TYPE_NAMES: readonly string[] = [
  'DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION',
];

/** RFC 9113 §6.5.2, RFC 8441 §3 and RFC 9218 §2.1. */
const SETTING_NAMES: Readonly<Record<number, string>> = {
  1: 'HEADER_TABLE_SIZE', 2: 'ENABLE_PUSH', 3: 'MAX_CONCURRENT_STREAMS', 4: 'INITIAL_WINDOW_SIZE', 5: 'MAX_FRAME_SIZE',
  6: 'MAX_HEADER_LIST_SIZE', 8: 'ENABLE_CONNECT_PROTOCOL', 9: 'NO_RFC7540_PRIORITIES',
};

/**
 * One direction's buffer may hold a whole header block as kept by the frame layer plus a frame
 * header: past that the block could not be shown anyway. Bounds what a connection costs `kcap print`.
 */
const DISSECT_MAX_BUFFER = MAX_HEADER_BLOCK + 4096;

const OTHER: Readonly<Record<Direction, Direction>> = { req: 'resp', resp: 'req' };

/** A frame's flags by the names its type gives them; bits its type does not define in hex. */
function flagsText(type: number, flags: number): string {
  if (flags === 0) return '';
  const defined = DEFINED_FLAGS[type];
  if (defined === undefined) return ` flags=0x${flags.toString(16)}`;
  const names: string[] = [];
  const acks = type === SETTINGS || type === PING;
  if (flags & defined & (acks ? FLAG_ACK : FLAG_END_STREAM)) names.push(acks ? 'ACK' : 'END_STREAM');
  if (flags & defined & FLAG_END_HEADERS) names.push('END_HEADERS');
  if (flags & defined & FLAG_PADDED) names.push('PADDED');
  if (flags & defined & FLAG_PRIORITY) names.push('PRIORITY');
  const rest = flags & ~defined;
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return ` flags=${names.join(',')}`;
}

function settingText(s: Setting): string {
  return `${SETTING_NAMES[s.id] ?? `0x${s.id.toString(16)}`}=${s.value}`;
}

/** A decoded header as `name: value`; what the decoder could not know as `?`, never a guess. */
function headerText(h: Header): string {
  const neverIndexed = h.neverIndexed ? '  (never indexed)' : '';
  if (!h.unknown) return `  ${h.name}: ${h.value}${neverIndexed}`;
  return `  ${h.name ?? '?'}: ${h.value ?? '?'}  (unknown: dynamic table entry from before the capture or a loss)${neverIndexed}`;
}

/** What the 9 header bytes of a wire frame say. */
interface WireHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
}

function wireHeader(buf: Uint8Array): WireHeader {
  return { length: u24(buf, 0), type: buf[3] as number, flags: buf[4] as number, stream: streamId(buf, 5) };
}

/** The part of a DATA frame's payload that is data (after the pad length, before the padding). */
function dataSpan(buf: Uint8Array, h: WireHeader): { readonly start: number; readonly end: number } {
  const padded = (h.flags & FLAG_PADDED) !== 0;
  const pad = padded ? (buf[FRAME_HEADER] as number) : 0;
  const start = FRAME_HEADER + (padded ? 1 : 0);
  return { start, end: Math.max(start, FRAME_HEADER + h.length - pad) };
}

/** A frame whose later bytes arrive in later reads (the engine skips them past the framer). */
interface Tail {
  /** Bytes of the frame still to come. */
  left: number;
  /** Of those, the DATA bytes still to show (padding excluded); 0 for other frames. */
  dataLeft: number;
  readonly streamId: number;
}

/** Lets the dissector see every step a framer takes, with the bytes it took it on. */
class ObservedFramer implements Framer<H2Frame> {
  constructor(private readonly inner: Http2Framer, private readonly dir: Direction, private readonly owner: Http2Dissector) {}

  parse(buf: Uint8Array): Step<H2Frame> {
    const step = this.inner.parse(buf);
    this.owner.observe(this.dir, buf, step);
    return step;
  }

  resync(buf: Uint8Array): number {
    const at = this.inner.resync(buf);
    if (at > 0) this.owner.note(`(${at} bytes skipped looking for the next frame boundary)`);
    return at;
  }

  reset(): void {
    this.inner.reset();
  }

  hole(): H2Frame | undefined {
    return this.lostInBlock(this.inner.hole());
  }

  cut(buf: Uint8Array): H2Frame | undefined {
    return this.lostInBlock(this.inner.cut(buf));
  }

  /** The frame a loss left incomplete, named when it was a header block. */
  private lostInBlock(f: H2Frame | undefined): H2Frame | undefined {
    if (f?.type === 'headers' || f?.type === 'push-promise') this.owner.note(`(bytes lost inside the header block of stream ${f.streamId}: not decoded)`);
    return f;
  }
}

/** The engine wants a pairer: frames were already described as they were parsed, losses are not. */
class LossNotes implements Pairer<H2Frame, H2Frame> {
  constructor(private readonly owner: Http2Dissector) {}
  request(): void {}
  response(): void {}
  gap(): void {
    this.owner.note('(bytes lost: looking for the next frame; header state of this side unknown from here)');
  }
  end(): void {}
}

/** One HTTP/2 connection as lines of text (see the module comment). Never throws. */
export class Http2Dissector implements Dissector {
  private readonly conn: Http2ConnState = newHttp2ConnState();
  private readonly parser: ConnectionParser;
  private readonly decoders: Record<Direction, HpackDecoder | undefined> = { req: undefined, resp: undefined };
  /** SETTINGS_HEADER_TABLE_SIZE each side announced and its peer has not acknowledged yet. */
  private readonly announcedTable: Record<Direction, number | undefined> = { req: undefined, resp: undefined };
  /** The table size each side's encoder may use (its peer's acknowledged setting). */
  private readonly tableLimit: Record<Direction, number> = { req: 4096, resp: 4096 };
  private readonly tails: Record<Direction, Tail | undefined> = { req: undefined, resp: undefined };
  private out: DissectLine[] = [];

  constructor() {
    this.parser = openParser('http2', {
      req: new ObservedFramer(new Http2Framer('req', this.conn), 'req', this),
      resp: new ObservedFramer(new Http2Framer('resp', this.conn), 'resp', this),
      pairer: new LossNotes(this),
    }, { maxBuffer: DISSECT_MAX_BUFFER });
  }

  data(dir: Direction, bytes: Uint8Array, size = bytes.length): readonly DissectLine[] {
    this.out = [];
    try {
      this.tail(dir, bytes);
      this.parser.data(dir, bytes, 0n, size);
      this.tailLost(dir, size - bytes.length);
      if (this.out.length === 0 && bytes.length > 0) this.note(`(${bytes.length} bytes of a frame that continues in a later read)`);
    } catch (e) {
      this.note(`(dissector failure: ${e instanceof Error ? e.message : String(e)})`);
    }
    return this.out;
  }

  gap(dir: Direction, size: number): readonly DissectLine[] {
    this.out = [];
    try {
      this.tailLost(dir, size);
      this.parser.gap(dir, size, 0n);
    } catch (e) {
      this.note(`(dissector failure: ${e instanceof Error ? e.message : String(e)})`);
    }
    return this.out;
  }

  /** @internal a line about the current call */
  note(line: DissectLine): void {
    this.out.push(line);
  }

  /** @internal one step of `dir`'s framer over `buf` */
  observe(dir: Direction, buf: Uint8Array, step: Step<H2Frame>): void {
    if (step.kind === 'need') return;
    if (step.kind === 'invalid') {
      this.note(`(invalid frame: ${step.reason})`);
      return;
    }
    if (step.kind === 'ignore' && step.consumed === CLIENT_PREFACE.length && matchAscii(buf, 0, CLIENT_PREFACE)) {
      this.note('client preface PRI * HTTP/2.0');
      return;
    }
    // Every other step starts at a frame header: nothing here fills conn.grpc, so no DATA is walked.
    const h = wireHeader(buf);
    const frame = step.kind === 'frame' ? step.frame : undefined;
    this.note(`${TYPE_NAMES[h.type] ?? `type=0x${h.type.toString(16)}`} stream=${h.stream} length=${h.length}${flagsText(h.type, h.flags)}${this.details(frame)}`);
    if (step.kind === 'ignore') this.note(h.type === CONTINUATION ? '  (no header block open: the capture joined inside one)' : '  (unknown frame type: skipped)');
    if (frame?.type === 'headers' || frame?.type === 'push-promise') this.headers(dir, frame.block, frame.complete, h);
    if (frame?.type === 'settings') this.settingsTaken(dir, frame.ack, frame.settings);
    if (frame?.type === 'data') this.dataBytes(dir, buf, h);
    else if (step.consumed > buf.length) this.tails[dir] = { left: step.consumed - buf.length, dataLeft: 0, streamId: h.stream };
  }

  /** What a frame says beyond its header, on the header's line. */
  private details(f: H2Frame | undefined): string {
    switch (f?.type) {
      case 'settings': return f.settings.length === 0 ? '' : ` ${f.settings.map(settingText).join(' ')}`;
      case 'rst-stream': return ` error=${errorName(f.errorCode)}`;
      case 'goaway': return ` last_stream=${f.lastStreamId} error=${errorName(f.errorCode)}${f.debug === '' ? '' : ` debug=${JSON.stringify(f.debug)}`}`;
      case 'window-update': return ` increment=${f.increment}`;
      case 'push-promise': return ` promised=${f.promisedId}`;
      default: return '';
    }
  }

  /** The DATA bytes this read holds; the rest are shown under the reads that bring them. */
  private dataBytes(dir: Direction, buf: Uint8Array, h: WireHeader): void {
    const { start, end } = dataSpan(buf, h);
    const shownEnd = Math.min(end, buf.length);
    if (shownEnd > start) this.note(buf.subarray(start, shownEnd));
    const total = FRAME_HEADER + h.length;
    if (total > buf.length) this.tails[dir] = { left: total - buf.length, dataLeft: Math.max(0, end - Math.max(start, buf.length)), streamId: h.stream };
  }

  /** Bytes at the start of a read that continue a frame begun earlier, as the engine will skip them. */
  private tail(dir: Direction, bytes: Uint8Array): void {
    const t = this.tails[dir];
    if (t === undefined || bytes.length === 0) return;
    const n = Math.min(t.left, bytes.length);
    const data = Math.min(t.dataLeft, n);
    this.note(`${data > 0 ? 'DATA' : 'frame'} stream=${t.streamId} continued: ${n} bytes`);
    if (data > 0) this.note(bytes.subarray(0, data));
    this.advanceTail(dir, t, n);
  }

  private tailLost(dir: Direction, n: number): void {
    const t = this.tails[dir];
    if (t !== undefined && n > 0) this.advanceTail(dir, t, Math.min(t.left, n));
  }

  private advanceTail(dir: Direction, t: Tail, n: number): void {
    t.left -= n;
    t.dataLeft = Math.max(0, t.dataLeft - n);
    if (t.left === 0) this.tails[dir] = undefined;
  }

  /** A header block decoded by `dir`'s decoder, one header a line. */
  private headers(dir: Direction, block: Uint8Array, complete: boolean, h: WireHeader): void {
    const decoder = this.decoder(dir);
    if (!complete) {
      // Only its start was kept (or bytes were lost in it): decoding half a block would corrupt the table anyway.
      decoder.forget();
      this.note(`  (header block longer than the ${MAX_HEADER_BLOCK} bytes kept: not decoded; header state of this side unknown from here)`);
      return;
    }
    const r = decoder.decode(block);
    if ('error' in r) {
      this.note(`  (${r.error}; header state of this side unknown from here)`);
      return;
    }
    if (h.type === CONTINUATION) this.note(`  (header block of ${block.length} bytes, joined from HEADERS and CONTINUATION)`);
    for (const header of r.headers) this.note(headerText(header));
  }

  /** The decoder of what `dir` sends; joined mid-way when the preface was missed or bytes were lost since. */
  private decoder(dir: Direction): HpackDecoder {
    const lost = this.conn.lost[dir];
    this.conn.lost[dir] = false;
    let d = this.decoders[dir];
    if (d === undefined) {
      d = new HpackDecoder({ maxTableSize: this.tableLimit[dir], joinedMidway: !this.conn.prefaceSeen || lost });
      this.decoders[dir] = d;
    } else if (lost) {
      d.forget();
    }
    return d;
  }

  /**
   * SETTINGS_HEADER_TABLE_SIZE bounds the peer's encoder once the peer acknowledges it (RFC 9113
   * §6.5.3), so an announced size waits for the other side's ACK.
   */
  private settingsTaken(dir: Direction, ack: boolean, settings: readonly Setting[]): void {
    if (!ack) {
      for (const s of settings) if (s.id === SETTINGS_HEADER_TABLE_SIZE) this.announcedTable[dir] = s.value;
      return;
    }
    const size = this.announcedTable[OTHER[dir]];
    if (size === undefined) return;
    this.announcedTable[OTHER[dir]] = undefined;
    this.tableLimit[dir] = size;
    this.decoders[dir]?.setMaxTableSize(size);
  }
}

/** A fresh dissector for one HTTP/2 connection (the ProtocolSpec `dissect` hook). */
export function openHttp2Dissector(): Dissector {
  return new Http2Dissector();
}
