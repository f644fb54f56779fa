/**
 * MySQL/MariaDB client/server protocol framing (dev.mysql.com/doc/dev/mysql-server/latest/
 * PAGE_PROTOCOL.html). Every packet is a 3-byte length, a sequence id and a payload; a payload
 * of 0xffffff bytes continues in the next packet. The shape of a response depends on the command
 * (OK/ERR, text or binary result sets with or without EOF packets, prepare answers), so the
 * request side queues what it expects and the response side frames accordingly.
 */
import { MAX_TEXT, text } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import {
  CLIENT_CONNECT_WITH_DB, CLIENT_DEPRECATE_EOF, CLIENT_PLUGIN_AUTH_LENENC, CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION, CLIENT_SSL, SERVER_MORE_RESULTS_EXISTS,
} from './types.js';
import type { Expect, MyConnState, MyRequest, MyResponse } from './types.js';

const HEADER = 4;
const MAX_PAYLOAD = 0xffffff;
const MAX_EXPECTED = 4096;
const MAX_STATEMENTS = 10_000;

/** Commands and what they expect; absent = unknown command, commands that get no answer = null. */
const EXPECTS: Readonly<Record<number, Expect | null>> = {
  0x01: null, 0x02: 'ok', 0x03: 'generic', 0x04: 'fieldlist', 0x05: 'ok', 0x06: 'ok', 0x07: 'ok',
  0x08: 'ok', 0x09: 'string', 0x0a: 'generic', 0x0c: 'ok', 0x0d: 'ok', 0x0e: 'ok', 0x11: 'auth',
  0x16: 'prepare', 0x17: 'generic', 0x18: null, 0x19: null, 0x1a: 'ok', 0x1b: 'ok', 0x1c: 'generic',
  0x1f: 'ok',
};

export function expectsAnswer(command: number): boolean {
  return EXPECTS[command] !== null;
}

interface Packet {
  readonly seq: number;
  readonly length: number;
  /** Payload prefix that was asked for (possibly shorter than `length`). */
  readonly body: Uint8Array;
  readonly total: number;
}

/** Packet at the head of `buf`, with `want` payload bytes available (capped by its length). */
function packet(buf: Uint8Array, want: number): Packet | null {
  if (buf.length < HEADER) return null;
  const length = (buf[0] as number) | ((buf[1] as number) << 8) | ((buf[2] as number) << 16);
  const have = Math.min(length, want);
  if (buf.length < HEADER + have) return null;
  return { seq: buf[3] as number, length, body: buf.subarray(HEADER, HEADER + have), total: HEADER + length };
}

function u16(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8)) >>> 0;
}
function u32(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

/** Length-encoded integer at `at`: value and size; value -1 when malformed or cut. */
function lenenc(b: Uint8Array, at: number): { value: number; size: number } {
  const c = b[at];
  if (c === undefined) return { value: -1, size: 1 };
  if (c < 0xfb) return { value: c, size: 1 };
  const n = c === 0xfc ? 2 : c === 0xfd ? 3 : c === 0xfe ? 8 : 0;
  if (n === 0 || at + 1 + n > b.length) return { value: -1, size: 1 };
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (b[at + 1 + i] as number);
  return { value: v, size: 1 + n };
}

function cstring(b: Uint8Array, at: number): { s: string; next: number } {
  const z = b.indexOf(0, at);
  const e = z === -1 ? b.length : z;
  return { s: text(b, at, e), next: e + 1 };
}

function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason };
}

/** Sequence/length plausibility shared by both sides' resync: a header, then payload. */
function resyncPackets(buf: Uint8Array, ok: (len: number, seq: number, first: number | undefined) => boolean): number {
  for (let p = 0; p < buf.length; p++) {
    if (p + 5 > buf.length) return p;
    const len = (buf[p] as number) | ((buf[p + 1] as number) << 8) | ((buf[p + 2] as number) << 16);
    if (len > 0 && ok(len, buf[p + 3] as number, buf[p + 4])) return p;
  }
  return buf.length;
}

export class RequestFramer implements Framer<MyRequest> {
  private continuation = false;

  constructor(private readonly conn: MyConnState) {}

  parse(buf: Uint8Array): Step<MyRequest> {
    if (this.conn.opaque) return { kind: 'ignore', consumed: buf.length };
    const p = packet(buf, MAX_TEXT);
    if (p === null) return NEED;
    const continued = this.continuation;
    this.continuation = p.length === MAX_PAYLOAD;
    if (continued) return { kind: 'ignore', consumed: p.total };
    if (this.conn.phase === 'greeted' && p.seq === 1) return this.handshakeResponse(p);
    // Packets that are not a command start: auth data, LOCAL INFILE contents.
    if (p.seq !== 0 || p.length === 0) return { kind: 'ignore', consumed: p.total };
    const command = p.body[0] as number;
    const expect = EXPECTS[command];
    if (expect === undefined) return invalid(`unknown command 0x${command.toString(16)}`);
    const frame = this.command(command, p.body);
    if (expect !== null) this.expect(expect, command === 0x16 ? frame.sql : '');
    return { kind: 'frame', consumed: p.total, frame };
  }

  resync(buf: Uint8Array): number {
    return resyncPackets(buf, (len, seq, first) => seq === 0 && first !== undefined && len < 1 << 24 && EXPECTS[first] !== undefined);
  }

  reset(): void {
    this.continuation = false;
  }

  private command(command: number, body: Uint8Array): MyRequest {
    const base = { command, sql: '', stmtId: 0, schema: '', user: '' };
    switch (command) {
      case 0x03: case 0x16: return { ...base, sql: text(body, 1) };
      case 0x02: return { ...base, schema: text(body, 1) };
      case 0x17: case 0x19: case 0x1a: case 0x18: case 0x1c: {
        const stmtId = body.length >= 5 ? u32(body, 1) : 0;
        if (command === 0x19) {
          const sql = this.conn.statements.get(stmtId) ?? '';
          this.conn.statements.delete(stmtId);
          return { ...base, stmtId, sql };
        }
        return { ...base, stmtId, sql: this.conn.statements.get(stmtId) ?? '' };
      }
      default: return base;
    }
  }

  private expect(kind: Expect, sql: string): void {
    if (this.conn.expect.length >= MAX_EXPECTED) this.conn.expect.shift();
    this.conn.expect.push({ kind, sql });
  }

  /** HandshakeResponse41 (or the SSLRequest that precedes TLS). */
  private handshakeResponse(p: Packet): Step<MyRequest> {
    const b = p.body;
    if (b.length < 32) return invalid('short handshake response');
    const caps = u32(b, 0);
    if (!(caps & CLIENT_PROTOCOL_41)) return invalid('pre-4.1 handshake not supported');
    this.conn.capabilities = caps & (this.conn.serverCapabilities || caps);
    if (caps & CLIENT_SSL && p.length === 32) {
      this.conn.opaque = true;
      return { kind: 'ignore', consumed: p.total };
    }
    const user = cstring(b, 32);
    let at = user.next;
    if (caps & CLIENT_PLUGIN_AUTH_LENENC) {
      const n = lenenc(b, at);
      at += n.size + Math.max(n.value, 0);
    } else if (caps & CLIENT_SECURE_CONNECTION) {
      at += 1 + (b[at] ?? 0);
    } else {
      at = cstring(b, at).next;
    }
    const schema = caps & CLIENT_CONNECT_WITH_DB && at < b.length ? cstring(b, at).s : '';
    this.conn.phase = 'auth';
    this.expect('auth', '');
    return { kind: 'frame', consumed: p.total, frame: { command: -1, sql: '', stmtId: 0, schema, user: user.s } };
  }
}

/** Where the response framer is inside a response. */
type State =
  | { readonly at: 'first' }
  /** Column/parameter definitions (and their EOF) still to pass, then rows or the end. */
  | { readonly at: 'defs'; left: number; readonly then: 'rows' | 'prepared' }
  | { readonly at: 'rows' }
  | { readonly at: 'until-eof' }
  | { readonly at: 'auth' };

export class ResponseFramer implements Framer<MyResponse> {
  private expect: { kind: Expect; sql: string } | undefined;
  private state: State = { at: 'first' };
  private rows = 0;
  private continuation = false;

  constructor(private readonly conn: MyConnState) {}

  parse(buf: Uint8Array): Step<MyResponse> {
    if (this.conn.opaque) return { kind: 'ignore', consumed: buf.length };
    const head = packet(buf, 1);
    if (head === null) return NEED;
    const first = head.body[0];
    // Rows are skipped unread; anything else is read from a bounded prefix.
    const reading = !(this.state.at === 'rows' && first !== 0xfe && first !== 0xff);
    const p = reading ? packet(buf, MAX_TEXT) : head;
    if (p === null) return NEED;
    const continued = this.continuation;
    this.continuation = p.length === MAX_PAYLOAD;
    if (continued) return { kind: 'partial', consumed: p.total };
    if (this.expect === undefined) {
      if (p.seq === 0 && this.isGreeting(p)) return { kind: 'ignore', consumed: p.total };
      this.expect = this.conn.expect.shift() ?? { kind: 'generic', sql: '' };
      if (this.expect.kind === 'auth') this.state = { at: 'auth' };
    }
    return this.step(p);
  }

  resync(buf: Uint8Array): number {
    return resyncPackets(buf, (len, seq, first) => seq === 1 && (first === 0x00 || first === 0xff) && len < 1 << 16);
  }

  reset(): void {
    this.expect = undefined;
    this.state = { at: 'first' };
    this.rows = 0;
    this.continuation = false;
  }

  /** Bytes lost inside a result set: report it as far as it was read. */
  hole(): MyResponse | undefined {
    const r = this.state.at === 'rows' ? this.summary('resultset') : undefined;
    this.reset();
    return r;
  }

  private deprecateEof(): boolean {
    return (this.conn.capabilities & CLIENT_DEPRECATE_EOF) !== 0;
  }

  /** An EOF packet (or, with CLIENT_DEPRECATE_EOF, the OK packet that replaces it). */
  private isEnd(p: Packet): boolean {
    return p.body[0] === 0xfe && (this.deprecateEof() ? p.length < MAX_PAYLOAD : p.length < 9);
  }

  private step(p: Packet): Step<MyResponse> {
    const first = p.body[0];
    const s = this.state;
    // 0xff never starts a definition, a row (text or binary) or an auth step: it is ERR.
    if (first === 0xff) return this.done(this.err(p), p);
    switch (s.at) {
      case 'auth':
        if (first === 0x00) return this.done(this.ok(p), p);
        return { kind: 'partial', consumed: p.total }; // auth switch / more data
      case 'first': return this.firstPacket(p);
      case 'defs':
        if (--s.left > 0) return { kind: 'partial', consumed: p.total };
        if (s.then === 'prepared') return this.done(this.summary('prepared'), p);
        this.state = { at: 'rows' };
        return { kind: 'partial', consumed: p.total };
      case 'rows':
        if (this.isEnd(p)) return this.endOfRows(p);
        this.rows++;
        return { kind: 'partial', consumed: p.total };
      case 'until-eof':
        if (this.isEnd(p)) return this.done(this.summary('other'), p);
        return { kind: 'partial', consumed: p.total };
    }
  }

  private firstPacket(p: Packet): Step<MyResponse> {
    const first = p.body[0];
    const kind = this.expect?.kind ?? 'generic';
    if (kind === 'ok' || kind === 'string') return this.done(first === 0x00 ? this.ok(p) : this.summary('other'), p);
    if (kind === 'fieldlist') {
      this.state = { at: 'until-eof' };
      return this.isEnd(p) ? this.done(this.summary('other'), p) : { kind: 'partial', consumed: p.total };
    }
    if (kind === 'prepare') return this.prepareOk(p);
    if (first === 0x00) {
      const r = this.ok(p);
      if (this.moreResults(p)) return { kind: 'partial', consumed: p.total };
      return this.done(r, p);
    }
    if (first === 0xfb) return { kind: 'partial', consumed: p.total }; // LOCAL INFILE: OK/ERR follows the file
    const n = lenenc(p.body, 0).value;
    if (n <= 0 || n > 4096) return invalid('bad column count');
    this.state = { at: 'defs', left: n + (this.deprecateEof() ? 0 : 1), then: 'rows' };
    return { kind: 'partial', consumed: p.total };
  }

  private prepareOk(p: Packet): Step<MyResponse> {
    if (p.body[0] !== 0x00 || p.body.length < 9) return invalid('bad prepare answer');
    const stmtId = u32(p.body, 1);
    const columns = u16(p.body, 5);
    const params = u16(p.body, 7);
    this.remember(stmtId, this.expect?.sql ?? '');
    const eofs = this.deprecateEof() ? 0 : (columns > 0 ? 1 : 0) + (params > 0 ? 1 : 0);
    const left = columns + params + eofs;
    if (left === 0) return this.done(this.summary('prepared'), p);
    this.state = { at: 'defs', left, then: 'prepared' };
    return { kind: 'partial', consumed: p.total };
  }

  private endOfRows(p: Packet): Step<MyResponse> {
    if (this.moreResults(p)) {
      this.state = { at: 'first' };
      return { kind: 'partial', consumed: p.total };
    }
    return this.done(this.summary('resultset'), p);
  }

  /** Status flags of an OK or EOF packet say another result set follows. */
  private moreResults(p: Packet): boolean {
    const b = p.body;
    let at = 1;
    if (b[0] === 0xfe && p.length < 9) return b.length >= 5 && (u16(b, 3) & SERVER_MORE_RESULTS_EXISTS) !== 0;
    at += lenenc(b, at).size;
    at += lenenc(b, at).size;
    return at + 2 <= b.length && (u16(b, at) & SERVER_MORE_RESULTS_EXISTS) !== 0;
  }

  private ok(p: Packet): MyResponse {
    return { ...this.summary('ok'), affected: Math.max(0, lenenc(p.body, 1).value) };
  }

  private err(p: Packet): MyResponse {
    const b = p.body;
    const code = b.length >= 3 ? u16(b, 1) : 0;
    const marker = b[3] === 0x23; // '#' + 5-char SQLSTATE (CLIENT_PROTOCOL_41)
    return {
      ...this.summary('error'),
      errorCode: code,
      sqlstate: marker ? text(b, 4, 9) : '',
      message: text(b, marker ? 9 : 3) || 'error',
    };
  }

  private summary(kind: MyResponse['kind']): MyResponse {
    return { kind, rows: this.rows, affected: 0, errorCode: 0, sqlstate: '', message: '' };
  }

  /** `r` is the whole response; `last` its final packet. */
  private done(r: MyResponse, last: Packet): Step<MyResponse> {
    if (this.expect?.kind === 'auth') this.conn.phase = 'command';
    this.reset();
    return { kind: 'frame', consumed: last.total, frame: r };
  }

  private remember(id: number, sql: string): void {
    if (this.conn.statements.size >= MAX_STATEMENTS) {
      const oldest = this.conn.statements.keys().next().value;
      if (oldest !== undefined) this.conn.statements.delete(oldest);
    }
    this.conn.statements.set(id, sql);
  }

  /** Initial Handshake (protocol 10): the server speaks first; keep its capabilities. */
  private isGreeting(p: Packet): boolean {
    const b = p.body;
    if (b[0] !== 0x0a || this.conn.expect.length > 0) return false;
    const version = cstring(b, 1);
    const at = version.next + 4 + 8 + 1;
    if (at + 2 > b.length) return false;
    let caps = u16(b, at);
    if (at + 7 <= b.length) caps |= u16(b, at + 5) << 16;
    this.conn.serverCapabilities = caps >>> 0;
    this.conn.phase = 'greeted';
    return true;
  }
}
