/**
 * HTTP/2 frame layer (RFC 9113 §3.4, §4, §6): detection from a connection's first bytes, one
 * Framer per direction that cuts the byte stream into typed frames, and resync for a connection
 * joined mid-way.
 *
 * Nothing here is buffered beyond a bound: a DATA or unknown frame's payload is consumed past
 * what is shown (the engine skips it as it arrives), control frames wait for a bounded prefix,
 * and a header block (HEADERS or PUSH_PROMISE with its CONTINUATIONs, joined into one frame) is
 * kept up to MAX_HEADER_BLOCK bytes; the rest is skipped and the block marked incomplete.
 *
 * Resync heuristic (bytes that start mid-frame): a position is taken as a frame start when its
 * 9 bytes read as a header that this direction could send — a known type, no flag bits the type
 * does not define, the reserved bit clear, a length within the sender's max frame size (16384
 * unless a SETTINGS said more) and the type's fixed size, stream 0 exactly for the connection
 * frames, a client's HEADERS/DATA/CONTINUATION on an odd stream, PUSH_PROMISE only from the server
 * — and, when the buffer reaches that far, the bytes right after the frame read as such a header
 * too. Random bytes pass one header test about once in 10^6 positions and the chained test far
 * more rarely; the real risk is payload that itself contains HTTP/2 frames (a DATA body carrying
 * a captured HTTP/2 stream) or a frame cut by the end of the buffer, where only the first test
 * applies. A false start costs at most a misread frame: the next invalid one resyncs again.
 */
import { matchAscii, utf8 } from '../bytes.js';
import type { Direction, Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import {
  CLIENT_PREFACE, CONTINUATION, DATA, DEFAULT_MAX_FRAME_SIZE, DEFINED_FLAGS, FLAG_ACK, FLAG_END_HEADERS,
  FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY, FRAME_HEADER, GOAWAY, HEADERS, LARGEST_FRAME_SIZE, PING,
  PRIORITY, PUSH_PROMISE, RST_STREAM, SETTINGS, SETTINGS_MAX_FRAME_SIZE, WINDOW_UPDATE,
} from './types.js';
import type { MessageCursor } from './grpc.js';
import type { H2Frame, Http2ConnState, Setting } from './types.js';

type DataFrame = Extract<H2Frame, { type: 'data' }>;

/** A DATA frame of a gRPC call being walked to count its messages. */
interface DataWalk {
  readonly frame: DataFrame;
  /** Payload bytes still to walk (padding excluded). */
  left: number;
  /** Padding after the payload. */
  readonly padding: number;
  readonly cursor: MessageCursor;
}

/** Most header block bytes kept per block (what HPACK gets to decode). */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** Most SETTINGS pairs kept per frame (RFC 9113 defines six; the rest are skipped). */
export const MAX_SETTINGS = 64;
/** Most GOAWAY debug data bytes kept. */
export const MAX_DEBUG = 256;

/** Payload size each fixed-size type must have (-1: any). */
const FIXED_LENGTH: readonly number[] = [-1, -1, 5, 4, -1, -1, 8, -1, 4, -1];

const CONNECTION_FRAMES = (1 << SETTINGS) | (1 << PING) | (1 << GOAWAY);
const STREAM_FRAMES = (1 << DATA) | (1 << HEADERS) | (1 << PRIORITY) | (1 << RST_STREAM) | (1 << PUSH_PROMISE) | (1 << CONTINUATION);
const CLIENT_ODD_FRAMES = (1 << HEADERS) | (1 << CONTINUATION);

export function u24(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 16) | ((b[at + 1] as number) << 8) | (b[at + 2] as number);
}

function u32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) >>> 0) + (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
}

/** A 31-bit stream id (the reserved bit is ignored, §4.1). */
export function streamId(b: Uint8Array, at: number): number {
  return u32(b, at) & 0x7fffffff;
}

/**
 * A frame whose header was read but is malformed. Its 9 header bytes are dropped whole, so resync
 * starts in its payload: one byte on, the same header shifted by one too often reads as a plausible
 * DATA header (a zero high length byte, the flags as type 0).
 */
function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason, skip: FRAME_HEADER };
}

/**
 * Why a header of `type` on `stream` cannot come from `dir` under §5.1.1/§6 (undefined: it can).
 * `strict` adds what resync wants and parsing tolerates: a client's DATA on an odd stream.
 */
function streamRule(type: number, stream: number, dir: Direction, strict: boolean): string | undefined {
  if (type > CONTINUATION) return undefined;
  const bit = 1 << type;
  if (bit & CONNECTION_FRAMES) return stream === 0 ? undefined : 'connection frame on a stream';
  if (bit & STREAM_FRAMES && stream === 0) return 'stream frame on stream 0';
  if (dir === 'req') {
    if (type === PUSH_PROMISE) return 'PUSH_PROMISE from a client';
    const odd = CLIENT_ODD_FRAMES | (strict ? 1 << DATA : 0);
    if (bit & odd && stream % 2 === 0) return 'client frame on an even stream';
  } else if (type === PUSH_PROMISE && stream % 2 === 0) {
    return 'PUSH_PROMISE on an even stream';
  }
  return undefined;
}

/** Why a frame of `type` cannot be `length` bytes long (undefined: it can). */
function lengthRule(type: number, flags: number, length: number): string | undefined {
  const fixed = FIXED_LENGTH[type] ?? -1;
  if (fixed >= 0 && length !== fixed) return `frame type ${type} of length ${length}, not ${fixed}`;
  if (type === SETTINGS && (length % 6 !== 0 || (flags & FLAG_ACK && length !== 0))) return `SETTINGS of length ${length}`;
  if (type === GOAWAY && length < 8) return `GOAWAY of length ${length}`;
  return undefined;
}

/**
 * Whether buf[p…] may start a frame header `dir` sends, as far as buf shows it (a header cut by
 * the end of buf counts when its bytes so far fit). `known` asks for a known type with only its
 * defined flags and, beyond what parsing checks, no frame that is legal but never sent empty
 * (HEADERS, PUSH_PROMISE, DATA without END_STREAM); otherwise an extension type is fine too.
 */
function headerFits(buf: Uint8Array, p: number, dir: Direction, maxLength: number, known = true): boolean {
  const n = buf.length - p;
  if (n < 3) return n < 1 || (buf[p] as number) <= maxLength >>> 16;
  const length = u24(buf, p);
  if (length > maxLength) return false;
  if (n < 4) return true;
  const type = buf[p + 3] as number;
  if (type > CONTINUATION) return !known && (n < 6 || ((buf[p + 5] as number) & 0x80) === 0);
  if (lengthRule(type, 0, length) !== undefined) return false;
  if (n < 5) return true;
  const flags = buf[p + 4] as number;
  if ((flags & ~(DEFINED_FLAGS[type] as number)) !== 0 || lengthRule(type, flags, length) !== undefined) return false;
  if (length === 0 && (type === HEADERS || type === PUSH_PROMISE || (type === DATA && !(flags & FLAG_END_STREAM)))) return false;
  if (n < 6) return true;
  if ((buf[p + 5] as number) & 0x80) return false;
  return n < FRAME_HEADER || streamRule(type, streamId(buf, p + 5), dir, true) === undefined;
}

/** The header at p fits, and so does the one right after its frame if buf reaches it. */
function frameStartFits(buf: Uint8Array, p: number, dir: Direction, maxLength: number): boolean {
  if (!headerFits(buf, p, dir, maxLength)) return false;
  if (buf.length - p < FRAME_HEADER) return true;
  const next = p + FRAME_HEADER + u24(buf, p);
  return next >= buf.length || headerFits(buf, next, dir, maxLength, false);
}

/** Confidence that `first` begins with the client preface (or is a prefix of it). */
function prefaceConfidence(first: Uint8Array): number {
  if (first.length === 0 || !matchAscii(first, 0, CLIENT_PREFACE, true)) return 0;
  if (first.length >= CLIENT_PREFACE.length) return 1;
  return first.length >= 16 ? 0.95 : first.length >= 4 ? 0.6 : 0.2;
}

/** Confidence that `first` begins with a server's SETTINGS frame (its first frame, §3.4). */
function serverSettingsConfidence(first: Uint8Array): number {
  if (!headerFits(first, 0, 'resp', LARGEST_FRAME_SIZE)) return 0;
  if (first.length < 4) return first.length > 0 ? 0.2 : 0;
  if (first[3] !== SETTINGS) return 0;
  if (first.length < FRAME_HEADER) return 0.4;
  const length = u24(first, 0);
  if (FRAME_HEADER + length > first.length) return 0.7;
  // Whole frame seen: known setting ids (1–6, 8, 9) make it a strong match.
  for (let p = FRAME_HEADER; p < FRAME_HEADER + length; p += 6) {
    const id = ((first[p] as number) << 8) | (first[p + 1] as number);
    if (id === 0 || id === 7 || id > 9) return 0.6;
  }
  return 0.9;
}

/** Most frames a mid-connection guess walks through. */
const MAX_GUESS_FRAMES = 16;

/**
 * Confidence that `first`, seen first on a connection whose start was missed, is whole HTTP/2
 * frames sent by `dir`: every header fits, and the last frame ends where `first` does, or, when
 * at least two whole frames came before, runs past it (a write longer than the snaplen).
 */
function midwayConfidence(first: Uint8Array, dir: Direction): number {
  let p = 0;
  for (let k = 0; k < MAX_GUESS_FRAMES; k++) {
    if (p === first.length) return k > 0 ? 0.5 : 0;
    if (!headerFits(first, p, dir, DEFAULT_MAX_FRAME_SIZE)) return 0;
    if (first.length - p < FRAME_HEADER) return k >= 2 ? 0.5 : 0;
    p += FRAME_HEADER + u24(first, p);
    if (p > first.length) return k >= 2 ? 0.5 : 0;
  }
  return 0.5;
}

/**
 * Confidence 0..1 that a connection whose first bytes in `dir` are `first` speaks HTTP/2: the
 * client preface, a server's SETTINGS, or else whole frames (a connection joined mid-way).
 * Cheap and never throws.
 */
export function detectHttp2(first: Uint8Array, dir: Direction): number {
  const start = dir === 'req' ? prefaceConfidence(first) : serverSettingsConfidence(first);
  return start > 0 ? start : midwayConfidence(first, dir);
}

/** Fresh state for the two framers of one connection. */
export function newHttp2ConnState(): Http2ConnState {
  return {
    maxFrameSize: { req: DEFAULT_MAX_FRAME_SIZE, resp: DEFAULT_MAX_FRAME_SIZE },
    prefaceSeen: false, lost: { req: false, resp: false }, grpc: new Map(),
  };
}

/** What the first frame of a header block says about it. */
interface BlockStart {
  readonly type: 'headers' | 'push-promise';
  readonly streamId: number;
  readonly endStream: boolean;
  readonly promisedId: number;
}

/** A header block being joined from a HEADERS or PUSH_PROMISE and its CONTINUATION frames. */
class BlockBuilder {
  private bytes = new Uint8Array(4096);
  length = 0;
  complete = true;

  constructor(readonly first: BlockStart) {}

  /** Room left under MAX_HEADER_BLOCK. */
  get room(): number {
    return MAX_HEADER_BLOCK - this.length;
  }

  add(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.length + n > this.bytes.length) {
      const grown = new Uint8Array(Math.min(MAX_HEADER_BLOCK, Math.max(this.bytes.length * 2, this.length + n)));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(src.subarray(start, end), this.length);
    this.length += n;
  }

  frame(): H2Frame {
    return headerFrame(this.first, this.bytes.slice(0, this.length), this.complete);
  }
}

function headerFrame(f: BlockStart, block: Uint8Array, complete: boolean): H2Frame {
  return f.type === 'headers'
    ? { type: 'headers', streamId: f.streamId, endStream: f.endStream, block, complete }
    : { type: 'push-promise', streamId: f.streamId, promisedId: f.promisedId, block, complete };
}

/**
 * The fields a HEADERS or PUSH_PROMISE frame has before its block (pad length, promised id or
 * priority), and where the block starts; an error, or undefined until `buf` holds the fields.
 */
function blockHead(buf: Uint8Array, type: number, length: number, flags: number, stream: number): { first: BlockStart; start: number; pad: number } | string | undefined {
  const isPush = type === PUSH_PROMISE;
  const padded = (flags & FLAG_PADDED) !== 0;
  const before = (padded ? 1 : 0) + (isPush ? 4 : flags & FLAG_PRIORITY ? 5 : 0);
  if (length < before) return 'header frame shorter than its fields';
  if (buf.length < FRAME_HEADER + before) return undefined;
  const pad = padded ? (buf[FRAME_HEADER] as number) : 0;
  if (pad > length - before) return 'header frame padding longer than its payload';
  const first: BlockStart = {
    type: isPush ? 'push-promise' : 'headers', streamId: stream,
    endStream: !isPush && (flags & FLAG_END_STREAM) !== 0,
    promisedId: isPush ? streamId(buf, FRAME_HEADER + (padded ? 1 : 0)) : 0,
  };
  return { first, start: FRAME_HEADER + before, pad };
}

/**
 * Cuts one direction of an HTTP/2 connection into frames. The client's direction first consumes
 * the connection preface (when the capture saw the start; otherwise it begins with frames). A
 * CONTINUATION with no header block open (joined mid-block) is ignored; any other frame inside a
 * header block is a protocol error (invalid). The DATA of a gRPC call (a stream in `conn.grpc`)
 * is walked in partial steps so its message prefixes are seen and its bodies skipped.
 */
export class Http2Framer implements Framer<H2Frame> {
  private prefacePending: boolean;
  private block: BlockBuilder | undefined;
  private walk: DataWalk | undefined;

  constructor(private readonly dir: Direction, private readonly conn: Http2ConnState) {
    this.prefacePending = dir === 'req';
  }

  parse(buf: Uint8Array): Step<H2Frame> {
    if (this.prefacePending) {
      if (matchAscii(buf, 0, CLIENT_PREFACE, true)) {
        if (buf.length < CLIENT_PREFACE.length) return NEED;
        this.prefacePending = false;
        this.conn.prefaceSeen = true;
        return { kind: 'ignore', consumed: CLIENT_PREFACE.length };
      }
      this.prefacePending = false;
    }
    if (this.walk !== undefined) return this.walkData(buf, this.walk);
    if (buf.length < FRAME_HEADER) return NEED;
    const length = u24(buf, 0);
    const type = buf[3] as number;
    const flags = buf[4] as number;
    const stream = streamId(buf, 5);
    if (this.block !== undefined) return this.continuation(buf, length, type, flags, stream, this.block);
    const bad = streamRule(type, stream, this.dir, false) ?? (type <= CONTINUATION ? lengthRule(type, flags, length) : undefined);
    if (bad !== undefined) return invalid(bad);
    const end = FRAME_HEADER + length;
    switch (type) {
      case DATA: return this.data(buf, length, flags, stream);
      case HEADERS:
      case PUSH_PROMISE: return this.headerStart(buf, type, length, flags, stream);
      case PRIORITY: return { kind: 'frame', consumed: end, frame: { type: 'priority', streamId: stream } };
      case RST_STREAM: return buf.length < end ? NEED
        : { kind: 'frame', consumed: end, frame: { type: 'rst-stream', streamId: stream, errorCode: u32(buf, 9) } };
      case SETTINGS: return this.settings(buf, length, flags);
      case PING: return { kind: 'frame', consumed: end, frame: { type: 'ping', ack: (flags & FLAG_ACK) !== 0 } };
      case GOAWAY: return this.goaway(buf, length);
      case WINDOW_UPDATE: return buf.length < end ? NEED
        : { kind: 'frame', consumed: end, frame: { type: 'window-update', streamId: stream, increment: u32(buf, 9) & 0x7fffffff } };
      default: return { kind: 'ignore', consumed: end }; // CONTINUATION outside a block, or an extension type
    }
  }

  resync(buf: Uint8Array): number {
    const max = this.conn.maxFrameSize[this.dir];
    for (let p = 0; p < buf.length; p++) {
      if (frameStartFits(buf, p, this.dir, max)) return p;
    }
    return buf.length;
  }

  /** Called after lost or discarded bytes: whatever they held, this side's HPACK state is in doubt. */
  reset(): void {
    this.block = undefined;
    if (this.walk !== undefined) this.walk.cursor.broken = true;
    this.walk = undefined;
    this.conn.lost[this.dir] = true;
  }

  /**
   * Bytes lost inside a header block: the block as far as it was read, marked incomplete; inside
   * a walked DATA frame: the frame, its call's message count now unknown.
   */
  hole(): H2Frame | undefined {
    const b = this.block;
    const w = this.walk;
    this.reset();
    if (w !== undefined) return w.frame;
    if (b === undefined) return undefined;
    b.complete = false;
    return b.frame();
  }

  private data(buf: Uint8Array, length: number, flags: number, stream: number): Step<H2Frame> {
    const padded = (flags & FLAG_PADDED) !== 0;
    if (padded && length < 1) return invalid('PADDED DATA without a pad length');
    if (padded && buf.length < FRAME_HEADER + 1) return NEED;
    const pad = padded ? 1 + (buf[FRAME_HEADER] as number) : 0;
    if (pad > length) return invalid('DATA padding longer than its payload');
    const frame: DataFrame = { type: 'data', streamId: stream, endStream: (flags & FLAG_END_STREAM) !== 0, length: length - pad };
    const cursor = this.conn.grpc.get(stream)?.[this.dir];
    if (cursor === undefined || cursor.broken || frame.length === 0) return { kind: 'frame', consumed: FRAME_HEADER + length, frame };
    this.walk = { frame, left: frame.length, padding: padded ? pad - 1 : 0, cursor };
    return { kind: 'partial', consumed: FRAME_HEADER + (padded ? 1 : 0) };
  }

  /** The next bytes of a walked DATA payload: prefixes as buf shows them, bodies skipped. */
  private walkData(buf: Uint8Array, w: DataWalk): Step<H2Frame> {
    let used = 0;
    while (w.left > 0 && !w.cursor.broken && used < buf.length) {
      const n = w.cursor.advance(buf, used, w.left);
      used += n;
      w.left -= n;
    }
    if (w.left > 0 && !w.cursor.broken) return { kind: 'partial', consumed: used };
    this.walk = undefined;
    return { kind: 'frame', consumed: used + w.left + w.padding, frame: w.frame };
  }

  /**
   * The fragment of a HEADERS or PUSH_PROMISE frame: a whole block when END_HEADERS is set, else
   * the start of one that CONTINUATIONs complete. Priority fields are skipped.
   */
  private headerStart(buf: Uint8Array, type: number, length: number, flags: number, stream: number): Step<H2Frame> {
    const head = blockHead(buf, type, length, flags, stream);
    if (typeof head === 'string') return invalid(head);
    if (head === undefined) return NEED;
    const { first, start } = head;
    const end = FRAME_HEADER + length - head.pad;
    const keep = Math.min(end - start, MAX_HEADER_BLOCK);
    if (buf.length < start + keep) return NEED;
    const consumed = FRAME_HEADER + length;
    if (flags & FLAG_END_HEADERS) {
      return { kind: 'frame', consumed, frame: headerFrame(first, buf.slice(start, start + keep), keep === end - start) };
    }
    const b = new BlockBuilder(first);
    b.add(buf, start, start + keep);
    b.complete = keep === end - start;
    this.block = b;
    return { kind: 'partial', consumed };
  }

  /**
   * Bytes were lost inside the frame `buf` begins: a HEADERS or PUSH_PROMISE opens its stream
   * all the same, its block marked incomplete, so the request is kept with what is known.
   */
  cut(buf: Uint8Array): H2Frame | undefined {
    if (this.prefacePending || this.block !== undefined || this.walk !== undefined || buf.length < FRAME_HEADER) return undefined;
    const type = buf[3] as number;
    if (type !== HEADERS && type !== PUSH_PROMISE) return undefined;
    const length = u24(buf, 0);
    const stream = streamId(buf, 5);
    if (streamRule(type, stream, this.dir, false) !== undefined || length > this.conn.maxFrameSize[this.dir]) return undefined;
    const head = blockHead(buf, type, length, buf[4] as number, stream);
    if (head === undefined || typeof head === 'string') return undefined;
    return headerFrame(head.first, buf.slice(head.start, Math.min(buf.length, head.start + MAX_HEADER_BLOCK)), false);
  }

  /** A frame while header block `b` waits for its CONTINUATIONs. */
  private continuation(buf: Uint8Array, length: number, type: number, flags: number, stream: number,
    b: BlockBuilder): Step<H2Frame> {
    if (type !== CONTINUATION || stream !== b.first.streamId) {
      return invalid(`frame type ${type} on stream ${stream} inside the header block of stream ${b.first.streamId}`);
    }
    const keep = Math.min(length, b.room);
    if (buf.length < FRAME_HEADER + keep) return NEED;
    b.add(buf, FRAME_HEADER, FRAME_HEADER + keep);
    if (keep < length) b.complete = false;
    const consumed = FRAME_HEADER + length;
    if ((flags & FLAG_END_HEADERS) === 0) return { kind: 'partial', consumed };
    this.block = undefined;
    return { kind: 'frame', consumed, frame: b.frame() };
  }

  private settings(buf: Uint8Array, length: number, flags: number): Step<H2Frame> {
    const kept = Math.min(length, MAX_SETTINGS * 6);
    if (buf.length < FRAME_HEADER + kept) return NEED;
    const settings: Setting[] = [];
    for (let p = FRAME_HEADER; p < FRAME_HEADER + kept; p += 6) {
      const s = { id: ((buf[p] as number) << 8) | (buf[p + 1] as number), value: u32(buf, p + 2) };
      settings.push(s);
      if (s.id === SETTINGS_MAX_FRAME_SIZE) this.peerMayReceive(s.value);
    }
    return { kind: 'frame', consumed: FRAME_HEADER + length, frame: { type: 'settings', ack: (flags & FLAG_ACK) !== 0, settings } };
  }

  /** This side announced the largest frame it accepts: the other side's frames fit in it. */
  private peerMayReceive(size: number): void {
    if (size < DEFAULT_MAX_FRAME_SIZE || size > LARGEST_FRAME_SIZE) return;
    this.conn.maxFrameSize[this.dir === 'req' ? 'resp' : 'req'] = size;
  }

  private goaway(buf: Uint8Array, length: number): Step<H2Frame> {
    const debugEnd = FRAME_HEADER + 8 + Math.min(length - 8, MAX_DEBUG);
    if (buf.length < debugEnd) return NEED;
    return {
      kind: 'frame', consumed: FRAME_HEADER + length,
      frame: { type: 'goaway', lastStreamId: streamId(buf, FRAME_HEADER), errorCode: u32(buf, FRAME_HEADER + 4), debug: utf8(buf, FRAME_HEADER + 8, debugEnd) },
    };
  }
}

/** Both framers of one connection, sharing what SETTINGS tell the other direction. */
export function openHttp2Framers(): { readonly req: Http2Framer; readonly resp: Http2Framer } {
  const conn = newHttp2ConnState();
  return { req: new Http2Framer('req', conn), resp: new Http2Framer('resp', conn) };
}
