/**
 * The contract every L7 protocol implements, and the record every paired request becomes.
 *
 * A protocol is one folder (types, parse, pair, index) that supplies:
 *  - `detect`: a cheap, never-throwing guess from the first bytes seen on a connection;
 *  - two `Framer`s (client→server and server→client bytes) that cut a byte stream into frames
 *    with an explicit result per step (need more / invalid / ignore / partial / frame);
 *  - a `Pairer` that turns request and response frames into `L7Record`s.
 * The shared engine (engine.ts) owns buffering, timestamps, byte counts, gaps and resync, so a
 * protocol never sees a timestamp or a hole, only contiguous bytes starting at a frame boundary.
 */

/** Which side sent the bytes: `req` = the client of the connection, `resp` = its server. */
export type Direction = 'req' | 'resp';

export type Transport = 'stream' | 'datagram';

/** Value types a record field can have (for listing and filtering). */
export type FieldType = 'string' | 'u32' | 'u64' | 'bool' | 'ns';
export type FieldValue = string | number | boolean;

/** A record field declared as data, Wireshark style (`http.status`). */
export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
}

/**
 * Whether the request got its response: `paired`; `none-expected` when the protocol says no
 * response follows (memcached noreply, MySQL COM_STMT_CLOSE); `missing` when the connection
 * ended or bytes were lost before one arrived.
 */
export type Reply = 'paired' | 'none-expected' | 'missing';

/** One request with its response. Times are the capture's boot-clock ns. */
export interface L7Record {
  readonly protocol: string;
  /** What was asked: GET, SET, SELECT, QUERY A, … */
  readonly operation: string;
  /** What it was asked of: path without query, key, normalized SQL, DNS name. */
  readonly resource: string;
  /** Outcome in the protocol's words: HTTP status, DNS rcode, `ok` / `error`; '' if no response. */
  readonly status: string;
  /** Error text from the server, '' when none. */
  readonly error: string;
  /** First request byte. */
  readonly startTs: bigint;
  /** Last response byte (last request byte when there is no response). */
  readonly endTs: bigint;
  readonly latencyNs: bigint;
  /** Bytes each way as the syscalls reported them, including bytes beyond the snaplen. */
  readonly reqBytes: number;
  readonly respBytes: number;
  readonly reply: Reply;
  /** Protocol fields, named as in the protocol's `fields` declaration. */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /**
   * Why some of the record's fields are unknown though its exchange was seen (an HTTP/2 header
   * that needs compression state from before the capture); absent when all is known.
   */
  readonly incomplete?: string;
}

/**
 * One step of a framer over the bytes it was shown. `consumed` may exceed the bytes shown: the
 * rest (a body the parser need not read) is skipped as it arrives or as a known gap, and a frame
 * is only delivered once its last byte has passed.
 */
export type Step<F> =
  | { readonly kind: 'need' }
  /** Malformed; `skip` (default 1) leading bytes are known not to begin any frame. */
  | { readonly kind: 'invalid'; readonly reason: string; readonly skip?: number }
  /** Bytes that belong to no request or response (e.g. an unsolicited notice). */
  | { readonly kind: 'ignore'; readonly consumed: number }
  /** Bytes that begin or continue a frame that is not complete yet (e.g. a body chunk). */
  | { readonly kind: 'partial'; readonly consumed: number }
  | { readonly kind: 'frame'; readonly consumed: number; readonly frame: F };

export const NEED: Step<never> = Object.freeze({ kind: 'need' });

/** Cuts one direction of a connection into frames. Never throws on any input. */
export interface Framer<F> {
  /** `buf` is non-empty and starts where the previous step ended. */
  parse(buf: Uint8Array): Step<F>;
  /**
   * After lost bytes or an invalid frame: index of the first byte of `buf` at which a frame may
   * begin (a marker cut short by the end of `buf` counts), `buf.length` if none.
   */
  resync(buf: Uint8Array): number;
  /** Forget any half-parsed frame (after a gap or invalid bytes). */
  reset(): void;
  /** At connection end: the frame whose end was the end of the stream (HTTP read-until-close). */
  finish?(): F | undefined;
  /**
   * Bytes were lost while a frame was being assembled (partial steps seen). `continue`: the
   * framer does not need them (a read-until-close body); a frame: the exchange as far as it was
   * read, delivered now so the request still gets its (damaged) answer; undefined: nothing to
   * salvage. Without this method every hole is treated as undefined.
   */
  hole?(): 'continue' | F | undefined;
  /**
   * Bytes were lost right after `buf`, the start of a frame not yet complete (a request line
   * longer than the snaplen): the frame as far as `buf` shows it, or undefined.
   */
  cut?(buf: Uint8Array): F | undefined;
}

/** A frame with what the engine measured about it. */
export interface Message<F> {
  readonly frame: F;
  readonly startTs: bigint;
  readonly endTs: bigint;
  /** Wire bytes of the frame, counted from syscall sizes. */
  readonly bytes: number;
}

/** Where a pairer delivers its results. */
export interface PairSink {
  record(r: L7Record): void;
  /** A response that matched no request (capture started mid-conversation, or lost bytes). */
  unmatched(): void;
}

/** Matches requests with responses (FIFO, by id, by stream: the protocol decides). */
export interface Pairer<Req, Resp> {
  request(m: Message<Req>, sink: PairSink): void;
  response(m: Message<Resp>, sink: PairSink): void;
  /** Bytes were lost in `dir` at `ts`: drop what can no longer be paired correctly. */
  gap(dir: Direction, ts: bigint, sink: PairSink): void;
  /** Flush requests still waiting (reported with reply `missing`). */
  end(sink: PairSink): void;
}

/** Both framers and the pairer of one connection; they may share per-connection state. */
export interface ProtocolConnection<Req, Resp> {
  readonly req: Framer<Req>;
  readonly resp: Framer<Resp>;
  readonly pairer: Pairer<Req, Resp>;
}

export interface ParserOptions {
  /** `datagram`: one datagram per `data` call (DNS over UDP). Default `stream`. */
  readonly transport?: Transport;
  /** Most bytes buffered per direction while waiting for a frame to complete. Default 1 MiB. */
  readonly maxBuffer?: number;
  /** Most requests waiting for a response; older ones are reported missing. Default 4096. */
  readonly maxPending?: number;
}

/** What a parser saw that did not become a record; for reports and tests. */
export interface ParserStats {
  framesReq: number;
  framesResp: number;
  /** Frames rejected as malformed (each followed by a resync). */
  invalid: number;
  /** Holes (lost events, payload beyond snaplen that was not skippable body). */
  gaps: number;
  gapBytes: number;
  /** Captured bytes thrown away while resynchronizing. */
  discardedBytes: number;
  unmatchedResponses: number;
}

/**
 * A per-connection parser, the one thing connection tracking talks to. Never throws. The records
 * a call returns are in a list the parser reuses: read or copy them before calling it again.
 */
export interface ConnectionParser {
  readonly protocol: string;
  /**
   * Bytes moved by one syscall. `size` is what the syscall returned; when it exceeds
   * `bytes.length` (snaplen) the rest is a known gap right after `bytes`.
   */
  data(dir: Direction, bytes: Uint8Array, ts: bigint, size?: number): readonly L7Record[];
  /** A known hole of `size` bytes in `dir` (lost events). */
  gap(dir: Direction, size: number, ts: bigint): readonly L7Record[];
  /** Connection closed or capture over: flush everything. */
  end(): readonly L7Record[];
  readonly stats: Readonly<ParserStats>;
}

/**
 * One line of a dissection: text (raw: the renderer escapes control characters and indents it),
 * or payload bytes the protocol carries (a body), which the renderer shows as it shows payloads.
 * Bytes are a view into the caller's input: valid only until the dissector's next call.
 */
export type DissectLine = string | Uint8Array;

/**
 * Renders one connection's bytes as a reader wants to see them (`kcap print -A`): frames,
 * decoded headers, what was lost. Fed every read/write of the connection in order, like a
 * ConnectionParser; never throws, and keeps bounded state whatever the bytes say.
 */
export interface Dissector {
  /** Lines for the bytes of one syscall; `size` as in ConnectionParser.data (beyond it: a gap). */
  data(dir: Direction, bytes: Uint8Array, size?: number): readonly DissectLine[];
  /** A known hole of `size` bytes in `dir` (lost events). */
  gap(dir: Direction, size: number): readonly DissectLine[];
}

/** One protocol, as the registry knows it. */
export interface ProtocolSpec {
  /** Short lower-case name (its fields have their own prefix: see fieldPrefix in fields.ts). */
  readonly name: string;
  readonly description: string;
  readonly transports: readonly Transport[];
  /** Well-known server ports: a hint for `detect`, never a requirement. */
  readonly ports: readonly number[];
  /** Protocol-specific record fields (the common ones are in fields.ts). */
  readonly fields: readonly FieldDef[];
  /**
   * Confidence 0..1 that a connection whose first bytes in `dir` are `first` speaks this
   * protocol; `port` is the server port when known. Cheap, never throws.
   */
  detect(first: Uint8Array, dir: Direction, port?: number): number;
  open(options?: ParserOptions): ConnectionParser;
  /** A per-connection dissector for `kcap print -A`, for protocols whose bytes raw text hides. */
  dissect?(): Dissector;
}
