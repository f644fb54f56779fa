/**
 * HTTP/2 wire constants (RFC 9113 §4–§7, §11) and the frames the frame layer (frames.ts)
 * delivers: one typed value per frame, a header block already joined from HEADERS or
 * PUSH_PROMISE and its CONTINUATION frames.
 */
import type { Direction, FieldDef } from '../types.js';
import type { CallMessages } from './grpc.js';

/** Every frame starts with a 9-byte header: 24-bit length, type, flags, R bit + 31-bit stream id. */
export const FRAME_HEADER = 9;

export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

export const FLAG_END_STREAM = 0x01;
export const FLAG_ACK = 0x01;
export const FLAG_END_HEADERS = 0x04;
export const FLAG_PADDED = 0x08;
export const FLAG_PRIORITY = 0x20;

/** Flag bits each known type defines (others must be ignored when parsing; resync wants them 0). */
export const DEFINED_FLAGS: readonly number[] = [
  FLAG_END_STREAM | FLAG_PADDED, // DATA
  FLAG_END_STREAM | FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY, // HEADERS
  0, 0, // PRIORITY, RST_STREAM
  FLAG_ACK, // SETTINGS
  FLAG_END_HEADERS | FLAG_PADDED, // PUSH_PROMISE
  FLAG_ACK, // PING
  0, 0, // GOAWAY, WINDOW_UPDATE
  FLAG_END_HEADERS, // CONTINUATION
];

/** SETTINGS_MAX_FRAME_SIZE's initial value, and the most it may be set to (2^24 − 1). */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const LARGEST_FRAME_SIZE = 0xffffff;

export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;

/** The client connection preface (§3.4), before its first SETTINGS frame. */
export const CLIENT_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** Error codes by value (§7). */
const ERROR_NAMES: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT',
  'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR',
  'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** An error code as RFC 9113 names it; an unknown one as hex (`0x1f`). */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

export interface Setting {
  readonly id: number;
  readonly value: number;
}

/**
 * A header block: the fragments of one HEADERS or PUSH_PROMISE frame and its CONTINUATIONs.
 * `complete` is false when the block was longer than the bound kept (MAX_HEADER_BLOCK) or bytes
 * were lost inside it; `block` then holds only its start and the peer's HPACK state is unknown
 * from here on.
 */
export interface HeaderBlock {
  readonly block: Uint8Array;
  readonly complete: boolean;
}

export type H2Frame =
  /** `length`: data bytes, padding excluded (the payload itself is skipped, not kept). */
  | { readonly type: 'data'; readonly streamId: number; readonly endStream: boolean; readonly length: number }
  | ({ readonly type: 'headers'; readonly streamId: number; readonly endStream: boolean } & HeaderBlock)
  | ({ readonly type: 'push-promise'; readonly streamId: number; readonly promisedId: number } & HeaderBlock)
  | { readonly type: 'priority'; readonly streamId: number }
  | { readonly type: 'rst-stream'; readonly streamId: number; readonly errorCode: number }
  /** `settings`: at most MAX_SETTINGS pairs, in wire order. */
  | { readonly type: 'settings'; readonly ack: boolean; readonly settings: readonly Setting[] }
  | { readonly type: 'ping'; readonly ack: boolean }
  /** `debug`: at most MAX_DEBUG bytes of the additional debug data, as UTF-8. */
  | { readonly type: 'goaway'; readonly lastStreamId: number; readonly errorCode: number; readonly debug: string }
  /** Stream 0 for the connection's window. */
  | { readonly type: 'window-update'; readonly streamId: number; readonly increment: number };

/** What the two framers of one connection tell each other. */
export interface Http2ConnState {
  /**
   * Largest frame each direction's sender may send: the SETTINGS_MAX_FRAME_SIZE its peer
   * announced (a bound for resync's plausibility test only; parsing accepts any 24-bit length).
   */
  readonly maxFrameSize: Record<Direction, number>;
  /** The client preface was seen: the capture holds the connection from its first byte. */
  prefaceSeen: boolean;
  /**
   * Bytes of that direction were dropped (lost, or thrown away to resync) since the stream
   * layer last looked: its HPACK state is in doubt. Set by the framer, cleared by the reader.
   */
  readonly lost: Record<Direction, boolean>;
  /** gRPC calls in progress by stream id: the framers count their DATA's messages here. */
  readonly grpc: Map<number, CallMessages>;
}

export const HTTP2_FIELDS: readonly FieldDef[] = [
  { name: 'http2.method', type: 'string', description: 'Request :method' },
  { name: 'http2.path', type: 'string', description: 'Request :path without query string' },
  { name: 'http2.authority', type: 'string', description: 'Request :authority' },
  { name: 'http2.status', type: 'u32', description: 'Response :status' },
  { name: 'http2.stream_id', type: 'u32', description: 'Stream the exchange used' },
  { name: 'http2.content_type', type: 'string', description: 'content-type of the request, else of the response' },
];

export const GRPC_FIELDS: readonly FieldDef[] = [
  { name: 'grpc.service', type: 'string', description: 'package.Service called' },
  { name: 'grpc.method', type: 'string', description: 'Method called' },
  { name: 'grpc.status', type: 'string', description: 'grpc-status as gRPC names it (OK, NOT_FOUND, …)' },
  { name: 'grpc.message', type: 'string', description: 'grpc-message, percent-decoded' },
  { name: 'grpc.messages_in', type: 'u32', description: 'Length-prefixed messages the client sent' },
  { name: 'grpc.messages_out', type: 'u32', description: 'Length-prefixed messages the server sent' },
  { name: 'grpc.compressed', type: 'bool', description: 'Some message of the call was compressed' },
];
