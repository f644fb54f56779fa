/**
 * HTTP/2 streams (RFC 9113 §5.1) into records: one record per stream, whatever the number in
 * flight. The client's HEADERS open a stream (the server's PUSH_PROMISE opens a pushed one); the
 * server's first final HEADERS is the response, a later one its trailers; the response's
 * END_STREAM closes it with a record. RST_STREAM, a server's GOAWAY below the stream's id, or the
 * connection's end close it without a response.
 *
 * Every header block is decoded, on known streams or not, since each one changes its
 * direction's HPACK table. A block the decoder cannot fully resolve (its direction joined
 * mid-way or lost bytes) leaves the record with what is known and marks it incomplete: a method
 * or path is never guessed. A gRPC call (content-type application/grpc*) becomes a `grpc`
 * record; the framers count its messages in the cursors registered in `conn.grpc`.
 */
import { MAX_TEXT, pathOfTarget } from '../bytes.js';
import { DEFAULT_MAX_PENDING, makeRecord } from '../pairing.js';
import type { Exchange } from '../pairing.js';
import type { Direction, FieldValue, Message, PairSink, Pairer, Reply } from '../types.js';
import { decodeGrpcMessage, grpcCall, grpcStatusName, isGrpcContentType, MessageCursor, statusFromHttp } from './grpc.js';
import type { CallMessages } from './grpc.js';
import { HpackDecoder } from './hpack.js';
import type { HeaderBlock, H2Frame, Http2ConnState } from './types.js';
import { errorName, SETTINGS_HEADER_TABLE_SIZE } from './types.js';

export const INCOMPLETE_HEADERS = 'HTTP/2 header state unknown';
/** A response under way when its direction lost bytes (beyond the snaplen), ended unseen. */
export const INCOMPLETE_END = 'HTTP/2 stream end not captured';

/** The headers a record is made of; others are decoded (for the table) and dropped. */
const KEPT = new Set([':method', ':path', ':authority', ':status', 'content-type', 'grpc-status', 'grpc-message']);

/** A decoded block's kept headers, and whether any header of it could not be resolved. */
interface Decoded {
  readonly heads: Map<string, string>;
  readonly unknown: boolean;
}

/** Times and bytes of one direction of a stream: the sum of its frames. */
interface Half {
  startTs: bigint;
  endTs: bigint;
  bytes: number;
}

interface Stream {
  readonly id: number;
  readonly req: Half;
  resp: Half | undefined;
  readonly request: Map<string, string>;
  /** Response headers and trailers together; undefined until the final response HEADERS. */
  response: Map<string, string> | undefined;
  unknown: boolean;
  /** Its response had begun when that direction lost bytes: its END_STREAM may be among them. */
  cut: boolean;
  call: CallMessages | undefined;
}

type Frame<T extends H2Frame['type']> = Extract<H2Frame, { type: T }>;

function half(m: Message<unknown>): Half {
  return { startTs: m.startTs, endTs: m.endTs, bytes: m.bytes };
}

function extend(h: Half, m: Message<unknown>): void {
  h.endTs = m.endTs;
  h.bytes += m.bytes;
}

function isInterim(status: string | undefined): boolean {
  return status !== undefined && status.length === 3 && status[0] === '1';
}

export class Http2Pairer implements Pairer<H2Frame, H2Frame> {
  private readonly streams = new Map<number, Stream>();
  private readonly decoders: Partial<Record<Direction, HpackDecoder>> = {};
  /** SETTINGS_HEADER_TABLE_SIZE each side announced, applied to the peer's decoder on its ACK. */
  private readonly announced: Partial<Record<Direction, number>> = {};
  private readonly tableSize: Record<Direction, number | undefined> = { req: undefined, resp: undefined };
  /** Lowest and highest client stream whose request HEADERS were seen. */
  private firstClient: number | undefined;
  private lastClient = 0;

  constructor(private readonly conn: Http2ConnState, private readonly maxPending = DEFAULT_MAX_PENDING) {}

  request(m: Message<H2Frame>, sink: PairSink): void {
    const f = m.frame;
    switch (f.type) {
      case 'headers': return this.clientHeaders(m, f, sink);
      case 'data': return this.streamBytes('req', f.streamId, m);
      case 'rst-stream': return this.reset('req', m, f, sink);
      case 'settings': return this.settings('req', f);
      case 'push-promise': return void this.decode('req', f);
      default:
    }
  }

  response(m: Message<H2Frame>, sink: PairSink): void {
    const f = m.frame;
    switch (f.type) {
      case 'headers': return this.serverHeaders(m, f, sink);
      case 'data': return this.serverData(m, f, sink);
      case 'rst-stream': return this.reset('resp', m, f, sink);
      case 'settings': return this.settings('resp', f);
      case 'push-promise': return this.pushPromise(m, f, sink);
      case 'goaway': return this.goaway(f, sink);
      default:
    }
  }

  /**
   * Lost bytes may have held DATA of any call in progress (their message counts are unknown)
   * and the end of any response under way: such a response ends, at the latest, by `ts`.
   */
  gap(dir: Direction, ts: bigint): void {
    for (const call of this.conn.grpc.values()) call[dir].broken = true;
    if (dir === 'req') return;
    for (const s of this.streams.values()) {
      if (s.response === undefined || s.resp === undefined) continue;
      s.cut = true;
      if (ts > s.resp.endTs) s.resp.endTs = ts;
    }
  }

  /** Streams still open: unanswered, or answered with their end lost to a gap. */
  end(sink: PairSink): void {
    for (const s of [...this.streams.values()]) this.abandon(s, sink);
  }

  private abandon(s: Stream, sink: PairSink): void {
    this.close(s, s.cut ? 'paired' : 'missing', '', sink);
  }

  private clientHeaders(m: Message<H2Frame>, f: Frame<'headers'>, sink: PairSink): void {
    const d = this.decode('req', f);
    const s = this.streams.get(f.streamId);
    if (s !== undefined) {
      // Request trailers: they name nothing a record keeps.
      extend(s.req, m);
      s.unknown ||= d.unknown;
      return;
    }
    // A lower id is a stream already closed (or begun before the capture): not a new request.
    if (f.streamId <= this.lastClient || f.streamId % 2 === 0) return;
    this.firstClient ??= f.streamId;
    this.lastClient = f.streamId;
    this.open(f.streamId, m, d, sink);
  }

  private pushPromise(m: Message<H2Frame>, f: Frame<'push-promise'>, sink: PairSink): void {
    const d = this.decode('resp', f);
    if (!this.streams.has(f.promisedId)) this.open(f.promisedId, m, d, sink);
  }

  private open(id: number, m: Message<H2Frame>, d: Decoded, sink: PairSink): void {
    if (this.streams.size >= this.maxPending) {
      this.abandon(this.streams.values().next().value as Stream, sink);
    }
    const s: Stream = { id, req: half(m), resp: undefined, request: d.heads, response: undefined, unknown: d.unknown, cut: false, call: undefined };
    if (isGrpcContentType(d.heads.get('content-type') ?? '')) this.track(s, false);
    this.streams.set(id, s);
  }

  /** Lets the framers count the call's messages; `late`: its request DATA may already have passed. */
  private track(s: Stream, late: boolean): void {
    const call: CallMessages = { req: new MessageCursor(), resp: new MessageCursor() };
    call.req.broken = late;
    s.call = call;
    this.conn.grpc.set(s.id, call);
  }

  private serverHeaders(m: Message<H2Frame>, f: Frame<'headers'>, sink: PairSink): void {
    const d = this.decode('resp', f);
    const s = this.streams.get(f.streamId);
    if (s === undefined) {
      if (f.endStream) this.orphan(f.streamId, sink);
      return;
    }
    this.responseBytes(s, m);
    s.unknown ||= d.unknown;
    if (s.response === undefined) {
      if (isInterim(d.heads.get(':status'))) return;
      s.response = d.heads;
      if (s.call === undefined && isGrpcContentType(d.heads.get('content-type') ?? '')) this.track(s, true);
    } else {
      for (const [k, v] of d.heads) s.response.set(k, v);
    }
    if (f.endStream) this.ended(s, 'paired', sink);
  }

  private serverData(m: Message<H2Frame>, f: Frame<'data'>, sink: PairSink): void {
    const s = this.streams.get(f.streamId);
    if (s === undefined) {
      if (f.endStream) this.orphan(f.streamId, sink);
      return;
    }
    this.responseBytes(s, m);
    if (f.endStream) this.ended(s, s.response === undefined ? 'missing' : 'paired', sink);
  }

  private streamBytes(dir: Direction, id: number, m: Message<H2Frame>): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (dir === 'req') extend(s.req, m);
    else this.responseBytes(s, m);
  }

  private responseBytes(s: Stream, m: Message<H2Frame>): void {
    if (s.resp === undefined) s.resp = half(m);
    else extend(s.resp, m);
  }

  /**
   * The server ended a stream this capture saw no request on: begun before the capture (below
   * the first request seen) or whose request was lost (above the last). Between, it is a stream
   * already closed (by RST_STREAM), not a lost request.
   */
  private orphan(id: number, sink: PairSink): void {
    if (id % 2 === 1 && (this.firstClient === undefined || id < this.firstClient || id > this.lastClient)) sink.unmatched();
  }

  private reset(dir: Direction, m: Message<H2Frame>, f: Frame<'rst-stream'>, sink: PairSink): void {
    const s = this.streams.get(f.streamId);
    if (s === undefined) return;
    this.streamBytes(dir, f.streamId, m);
    this.close(s, 'missing', `RST_STREAM ${errorName(f.errorCode)}`, sink);
  }

  /** Client streams above the last one the server says it processed never got an answer. */
  private goaway(f: Frame<'goaway'>, sink: PairSink): void {
    for (const s of [...this.streams.values()]) {
      if (s.id % 2 === 1 && s.id > f.lastStreamId) this.close(s, 'missing', `GOAWAY ${errorName(f.errorCode)}`, sink);
    }
  }

  private settings(dir: Direction, f: Frame<'settings'>): void {
    const peer: Direction = dir === 'req' ? 'resp' : 'req';
    if (f.ack) {
      // `dir` acknowledges what its peer announced: the peer's decoder (of `dir`'s blocks) may now hold that much.
      const size = this.announced[peer];
      if (size === undefined) return;
      delete this.announced[peer];
      this.tableSize[dir] = size;
      this.decoders[dir]?.setMaxTableSize(size);
      return;
    }
    for (const s of f.settings) if (s.id === SETTINGS_HEADER_TABLE_SIZE) this.announced[dir] = s.value;
  }

  /** Decodes a block of `dir` with that direction's decoder, forgetting its table after a loss. */
  private decode(dir: Direction, f: HeaderBlock): Decoded {
    const dec = this.decoder(dir);
    if (!f.complete) {
      dec.forget();
      return { heads: new Map(), unknown: true };
    }
    const r = dec.decode(f.block);
    if ('error' in r) return { heads: new Map(), unknown: true };
    const heads = new Map<string, string>();
    let unknown = false;
    for (const h of r.headers) {
      if (h.unknown) unknown = true;
      else if (KEPT.has(h.name) && !heads.has(h.name)) heads.set(h.name, h.value.slice(0, MAX_TEXT));
    }
    return { heads, unknown };
  }

  private decoder(dir: Direction): HpackDecoder {
    let dec = this.decoders[dir];
    if (dec === undefined) {
      const size = this.tableSize[dir];
      dec = new HpackDecoder({ joinedMidway: !this.conn.prefaceSeen || this.conn.lost[dir], ...(size === undefined ? {} : { maxTableSize: size }) });
      this.decoders[dir] = dec;
    } else if (this.conn.lost[dir]) {
      dec.forget();
    }
    this.conn.lost[dir] = false;
    return dec;
  }

  /** The server's END_STREAM was seen: whatever bytes were lost before, the end is known. */
  private ended(s: Stream, reply: Reply, sink: PairSink): void {
    s.cut = false;
    this.close(s, reply, '', sink);
  }

  private close(s: Stream, reply: Reply, reason: string, sink: PairSink): void {
    this.streams.delete(s.id);
    if (s.call !== undefined) this.conn.grpc.delete(s.id);
    const rec = makeRecord(isGrpc(s) ? 'grpc' : 'http2', s.req, s.resp, describe(s, reply, reason), reply);
    const incomplete = s.unknown ? INCOMPLETE_HEADERS : s.cut && reply === 'paired' ? INCOMPLETE_END : undefined;
    sink.record(incomplete === undefined ? rec : { ...rec, incomplete });
  }
}

function isGrpc(s: Stream): boolean {
  return s.call !== undefined || s.response?.has('grpc-status') === true;
}

/** The exchange of a closed stream; `reason` names why a stream closed without its response. */
function describe(s: Stream, reply: Reply, reason: string): Exchange {
  const path = s.request.get(':path');
  const status = s.response?.get(':status');
  const code = status !== undefined && /^\d{3}$/.test(status) ? Number(status) : undefined;
  const fields: Record<string, FieldValue> = {
    'http2.method': s.request.get(':method') ?? '',
    'http2.path': path === undefined ? '' : pathOfTarget(path),
    'http2.authority': s.request.get(':authority') ?? '',
    'http2.stream_id': s.id,
    'http2.content_type': s.request.get('content-type') ?? s.response?.get('content-type') ?? '',
  };
  if (code !== undefined) fields['http2.status'] = code;
  if (isGrpc(s)) return describeGrpc(s, fields, code, reply === 'paired' ? '' : reason);
  return {
    operation: fields['http2.method'] as string,
    resource: fields['http2.path'] as string,
    status: status ?? '',
    error: code !== undefined && code >= 400 ? String(code) : reason,
    fields,
  };
}

function describeGrpc(s: Stream, fields: Record<string, FieldValue>, code: number | undefined, reason: string): Exchange {
  const call = grpcCall(fields['http2.path'] as string);
  const status = grpcStatus(s, code);
  const message = decodeGrpcMessage(s.response?.get('grpc-message') ?? '');
  fields['grpc.service'] = call?.service ?? '';
  fields['grpc.method'] = call?.method ?? '';
  if (status !== '') fields['grpc.status'] = status;
  if (message !== '') fields['grpc.message'] = message;
  const c = s.call;
  if (c !== undefined && !c.req.broken) fields['grpc.messages_in'] = c.req.messages;
  if (c !== undefined && !c.resp.broken) fields['grpc.messages_out'] = c.resp.messages;
  if (c !== undefined) fields['grpc.compressed'] = c.req.compressed || c.resp.compressed;
  return {
    operation: call === undefined ? '' : `${call.service}/${call.method}`,
    resource: '',
    status,
    error: status !== '' && status !== 'OK' ? message || status : reason,
    fields,
  };
}

/**
 * grpc-status named; without one, what a client derives from the HTTP status (a 200 without a
 * grpc-status is UNKNOWN). Empty when no response was seen or its headers could not be read.
 */
function grpcStatus(s: Stream, code: number | undefined): string {
  const value = s.response?.get('grpc-status');
  if (value !== undefined) return grpcStatusName(value);
  if (code === undefined) return '';
  if (code !== 200) return statusFromHttp(code);
  return s.unknown ? '' : 'UNKNOWN';
}
