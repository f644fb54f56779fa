/**
 * gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md): which streams are gRPC calls, the
 * status names, and the count of length-prefixed messages each way.
 *
 * A call's DATA is a sequence of messages, each a 5-byte prefix (compressed flag, 32-bit
 * length) and its body. `MessageCursor` follows one direction of one call across DATA frames,
 * looking only at the prefixes: bodies are passed over without being seen, so a body beyond the
 * snaplen costs nothing. Bytes lost inside the DATA make the count unknown (`broken`), never a
 * guess.
 */
import { utf8 } from '../bytes.js';

/** `application/grpc`, `application/grpc+proto`, `application/grpc;…` (not grpc-web). */
export function isGrpcContentType(type: string): boolean {
  return /^application\/grpc(?:$|[+;])/.test(type);
}

/** Status codes by value, as gRPC names them. */
const STATUS_NAMES: readonly string[] = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** A `grpc-status` value as its name; an unknown code as itself. */
export function grpcStatusName(value: string): string {
  return /^\d{1,2}$/.test(value) ? STATUS_NAMES[Number(value)] ?? value : value;
}

/** The status a client derives from the HTTP status when a response carries no grpc-status. */
export function statusFromHttp(httpStatus: number): string {
  switch (httpStatus) {
    case 400: return 'INTERNAL';
    case 401: return 'UNAUTHENTICATED';
    case 403: return 'PERMISSION_DENIED';
    case 404: return 'UNIMPLEMENTED';
    case 429: case 502: case 503: case 504: return 'UNAVAILABLE';
    default: return 'UNKNOWN';
  }
}

/** `grpc-message` is percent-encoded UTF-8. */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes = Buffer.from(value.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  return utf8(bytes, 0, bytes.length);
}

/** `/package.Service/Method` → service and method; undefined for any other shape. */
export function grpcCall(path: string): { readonly service: string; readonly method: string } | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  return m === null ? undefined : { service: m[1]!, method: m[2]! };
}

const PREFIX = 5;

/** Counts the messages of one direction of one gRPC call (see the module comment). */
export class MessageCursor {
  messages = 0;
  compressed = false;
  /** Bytes were lost or a prefix made no sense: `messages` is only a lower bound. */
  broken = false;
  /** Body bytes of the current message still to pass. */
  private remaining = 0;
  private readonly prefix = new Uint8Array(PREFIX);
  private have = 0;

  /**
   * Passes payload bytes starting at buf[at], at most `limit` of them: a body is passed whole
   * (the count returned may exceed what buf holds), a prefix byte by byte as buf shows it.
   * Returns how many payload bytes were passed; at least 1 when at < buf.length or in a body.
   */
  advance(buf: Uint8Array, at: number, limit: number): number {
    if (this.remaining > 0) {
      const n = Math.min(this.remaining, limit);
      this.remaining -= n;
      return n;
    }
    const n = Math.min(PREFIX - this.have, limit, buf.length - at);
    this.prefix.set(buf.subarray(at, at + n), this.have);
    this.have += n;
    if (this.have === PREFIX) this.prefixDone();
    return n;
  }

  private prefixDone(): void {
    const p = this.prefix;
    this.have = 0;
    if ((p[0] as number) > 1) {
      this.broken = true;
      return;
    }
    this.messages++;
    if (p[0] === 1) this.compressed = true;
    this.remaining = (((p[1] as number) << 24) >>> 0) + (((p[2] as number) << 16) | ((p[3] as number) << 8) | (p[4] as number));
  }
}

/** Both directions of one call: `req` client → server, `resp` server → client. */
export interface CallMessages {
  readonly req: MessageCursor;
  readonly resp: MessageCursor;
}
