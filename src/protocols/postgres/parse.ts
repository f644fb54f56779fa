/**
 * PostgreSQL protocol v3 framing (postgresql.org/docs/current/protocol-message-formats.html).
 * Client side: untyped startup-phase messages, then typed messages; a simple Query is one
 * request, an extended-query batch ends at Sync. Server side: everything up to ReadyForQuery is
 * one response, from which the command tag, row count and first error are kept. DataRows and
 * other large messages are skipped, not buffered; text is read from a bounded prefix only, so
 * the result never depends on how the stream was cut.
 */
import { MAX_TEXT, text } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import type { PgConnState, PgRequest, PgResponse } from './types.js';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Largest message the server accepts (1 GiB) and the largest startup packet (10 KiB). */
const MAX_MESSAGE = 1 << 30;
const MAX_STARTUP = 10_000;
const MAX_STATEMENTS = 10_000;

export const FRONTEND_TYPES = new Set('QPBDESHCXpFdcf'.split('').map((c) => c.charCodeAt(0)));
const BACKEND_TYPES = new Set('RSKZTDCEINn123stAGHWdcv'.split('').map((c) => c.charCodeAt(0)));
/** Types whose content is read (and so needs its bounded prefix buffered). */
const READ_FRONTEND = new Set('QPBC'.split('').map((c) => c.charCodeAt(0)));
const READ_BACKEND = new Set('CE'.split('').map((c) => c.charCodeAt(0)));

function i32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason };
}

/** Null-terminated strings of `b` from `at`, at most `n` of them (unterminated tail included). */
function cstrings(b: Uint8Array, at: number, n: number): string[] {
  const out: string[] = [];
  let p = at;
  while (out.length < n && p < b.length) {
    const z = b.indexOf(0, p);
    const e = z === -1 ? b.length : z;
    out.push(text(b, p, e));
    p = e + 1;
  }
  return out;
}

/** Typed message header at the start of `buf`: total length, or a Step to return instead. */
function typedMessage(buf: Uint8Array, types: ReadonlySet<number>, read: ReadonlySet<number>):
  { type: number; total: number; body: Uint8Array } | Step<never> {
  if (buf.length < 5) return NEED;
  const type = buf[0] as number;
  if (!types.has(type)) return invalid(`unknown message type 0x${type.toString(16)}`);
  const len = i32(buf, 1);
  if (len < 4 || len > MAX_MESSAGE) return invalid('bad message length');
  const total = 1 + len;
  const wanted = read.has(type) ? Math.min(total, 5 + MAX_TEXT) : 5;
  if (buf.length < wanted) return NEED;
  return { type, total, body: buf.subarray(5, Math.min(total, 5 + MAX_TEXT)) };
}

/** First index where a typed message with a plausible header may start. */
function resyncTyped(buf: Uint8Array, types: ReadonlySet<number>): number {
  for (let p = 0; p < buf.length; p++) {
    if (!types.has(buf[p] as number)) continue;
    if (p + 5 > buf.length) return p;
    const len = i32(buf, p + 1);
    if (len >= 4 && len < 1 << 20) return p;
  }
  return buf.length;
}

const EMPTY_REQUEST = { sql: '', statement: '', user: '', database: '' };

export class RequestFramer implements Framer<PgRequest> {
  /** The extended-query batch being assembled up to Sync. */
  private batch: { sql: string; statement: string } | undefined;
  private executes = false;

  constructor(private readonly conn: PgConnState) {}

  parse(buf: Uint8Array): Step<PgRequest> {
    if (this.conn.opaque) return { kind: 'ignore', consumed: buf.length };
    if (buf[0] === 0) return this.untyped(buf);
    const m = typedMessage(buf, FRONTEND_TYPES, READ_FRONTEND);
    if (!('total' in m)) return m;
    const consumed = m.total;
    switch (String.fromCharCode(m.type)) {
      case 'Q': return { kind: 'frame', consumed, frame: { ...EMPTY_REQUEST, kind: 'simple', sql: cstrings(m.body, 0, 1)[0] ?? '' } };
      case 'P': {
        const [name = '', sql = ''] = cstrings(m.body, 0, 2);
        this.remember(name, sql);
        this.batch ??= { sql, statement: name };
        return { kind: 'partial', consumed };
      }
      case 'B': {
        const [, name = ''] = cstrings(m.body, 0, 2);
        this.batch ??= { sql: this.conn.statements.get(name) ?? '', statement: name };
        return { kind: 'partial', consumed };
      }
      case 'C':
        if (m.body[0] === 0x53) this.conn.statements.delete(cstrings(m.body, 1, 1)[0] ?? '');
        return { kind: 'partial', consumed };
      case 'E':
        this.executes = true;
        return { kind: 'partial', consumed };
      case 'D': case 'H': return { kind: 'partial', consumed };
      case 'S': {
        const b = this.batch ?? { sql: '', statement: '' };
        const kind = this.batch !== undefined && !this.executes ? 'prepare' : 'extended';
        this.reset();
        return { kind: 'frame', consumed, frame: { ...EMPTY_REQUEST, kind, ...b } };
      }
      case 'X': return { kind: 'frame', consumed, frame: { ...EMPTY_REQUEST, kind: 'terminate' } };
      case 'F': return { kind: 'frame', consumed, frame: { ...EMPTY_REQUEST, kind: 'function' } };
      default: return { kind: 'ignore', consumed }; // password, COPY data: part of an exchange already under way
    }
  }

  resync(buf: Uint8Array): number {
    return resyncTyped(buf, FRONTEND_TYPES);
  }

  reset(): void {
    this.batch = undefined;
    this.executes = false;
  }

  /** Startup-phase messages: int32 length, int32 code, payload. */
  private untyped(buf: Uint8Array): Step<PgRequest> {
    if (buf.length < 8) return NEED;
    const len = i32(buf, 0);
    if (len < 8 || len > MAX_STARTUP) return invalid('bad startup message length');
    if (buf.length < len) return NEED;
    const code = i32(buf, 4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.conn.sslPending = true;
      return { kind: 'frame', consumed: len, frame: { ...EMPTY_REQUEST, kind: 'ssl' } };
    }
    if (code === CANCEL_REQUEST) return { kind: 'frame', consumed: len, frame: { ...EMPTY_REQUEST, kind: 'cancel' } };
    if (code >>> 16 !== PROTOCOL_3 >>> 16) return invalid('unsupported protocol version');
    const words = cstrings(buf.subarray(0, len), 8, 64);
    const param = (k: string): string => {
      const i = words.indexOf(k);
      return i !== -1 && i % 2 === 0 ? words[i + 1] ?? '' : '';
    };
    const user = param('user');
    return { kind: 'frame', consumed: len, frame: { ...EMPTY_REQUEST, kind: 'startup', user, database: param('database') || user } };
  }

  private remember(name: string, sql: string): void {
    if (name === '') return;
    if (this.conn.statements.size >= MAX_STATEMENTS) {
      const oldest = this.conn.statements.keys().next().value;
      if (oldest !== undefined) this.conn.statements.delete(oldest);
    }
    this.conn.statements.set(name, sql);
  }
}

export class ResponseFramer implements Framer<PgResponse> {
  private tag = '';
  private rows = 0;
  private error = '';
  private sqlstate = '';
  private seen = false;

  constructor(private readonly conn: PgConnState) {}

  parse(buf: Uint8Array): Step<PgResponse> {
    if (this.conn.opaque) return { kind: 'ignore', consumed: buf.length };
    if (this.conn.sslPending) return this.sslAnswer(buf);
    const m = typedMessage(buf, BACKEND_TYPES, READ_BACKEND);
    if (!('total' in m)) return m;
    this.seen = true;
    switch (String.fromCharCode(m.type)) {
      case 'Z': {
        const frame = this.summary();
        this.reset();
        return { kind: 'frame', consumed: m.total, frame };
      }
      case 'C': this.tag = cstrings(m.body, 0, 1)[0] ?? ''; break;
      case 'D': this.rows++; break;
      case 'E': if (this.error === '') this.readError(m.body); break;
      default: break;
    }
    return { kind: 'partial', consumed: m.total };
  }

  /**
   * A new write usually starts at a message, so a plausible header at 0 is taken; otherwise
   * ReadyForQuery ('Z', length 5, status I/T/E), the one unmistakable marker.
   */
  resync(buf: Uint8Array): number {
    if (resyncTyped(buf.subarray(0, 5), BACKEND_TYPES) === 0) return 0;
    for (let p = buf.indexOf(0x5a); p !== -1; p = buf.indexOf(0x5a, p + 1)) {
      const expect = [0x5a, 0, 0, 0, 5];
      let ok = true;
      for (let i = 1; i < 5 && p + i < buf.length; i++) if (buf[p + i] !== expect[i]) ok = false;
      if (ok) return p;
    }
    return buf.length;
  }

  reset(): void {
    this.tag = '';
    this.rows = 0;
    this.error = '';
    this.sqlstate = '';
    this.seen = false;
  }

  /** Rows lost in the middle of a response: report what was read. */
  hole(): PgResponse | undefined {
    return this.finish();
  }

  /** A response cut by the end of the connection (e.g. a fatal error during startup). */
  finish(): PgResponse | undefined {
    const f = this.seen ? this.summary() : undefined;
    this.reset();
    return f;
  }

  private summary(): PgResponse {
    return { tag: this.tag, rows: this.rows, error: this.error, sqlstate: this.sqlstate };
  }

  private sslAnswer(buf: Uint8Array): Step<PgResponse> {
    const c = buf[0];
    if (c !== 0x4e && c !== 0x53 && c !== 0x47) return invalid('bad answer to SSL request');
    this.conn.sslPending = false;
    if (c !== 0x4e) this.conn.opaque = true;
    return { kind: 'frame', consumed: 1, frame: { tag: c === 0x4e ? 'N' : String.fromCharCode(c), rows: 0, error: '', sqlstate: '' } };
  }

  /** ErrorResponse: (field type byte, cstring)* then 0. */
  private readError(body: Uint8Array): void {
    let p = 0;
    while (p < body.length && body[p] !== 0) {
      const type = body[p] as number;
      const z = body.indexOf(0, p + 1);
      const e = z === -1 ? body.length : z;
      if (type === 0x4d) this.error = text(body, p + 1, e);
      else if (type === 0x43) this.sqlstate = text(body, p + 1, e);
      p = e + 1;
    }
    if (this.error === '') this.error = 'error';
  }
}
