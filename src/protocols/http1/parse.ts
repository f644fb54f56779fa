/**
 * HTTP/1.x framing (RFC 9112): request and response heads, bodies by Content-Length or chunked
 * coding, read-until-close responses, HEAD/1xx/204/304 without bodies, pipelining. Bodies are
 * never buffered: their lengths go to the engine as bytes to skip.
 */
import { matchAscii } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import { bodyKind, chunkStep, headLength, MAX_HEAD, readHead } from './head.js';
import type { Head } from './head.js';
import { METHODS } from './types.js';
import type { HttpConnState, HttpRequest, HttpResponse } from './types.js';

const MAX_METHOD = 20;
const MAX_QUEUED_METHODS = 4096;

/** True while `buf` could still be the start of a request line (method token then space). */
function plausibleRequestStart(buf: Uint8Array): boolean {
  const n = Math.min(buf.length, MAX_METHOD + 1);
  for (let i = 0; i < n; i++) {
    const c = buf[i] as number;
    if (c === 0x20) return i > 0;
    if (c < 0x41 || c > 0x5a) return false;
  }
  return n <= MAX_METHOD;
}

function plausibleResponseStart(buf: Uint8Array): boolean {
  return matchAscii(buf, 0, 'HTTP/1.', true);
}

/** First index at or after a line start where one of `markers` begins (or may, cut by the end). */
function resyncAt(buf: Uint8Array, markers: readonly string[]): number {
  for (let p = 0; p < buf.length; p = buf.indexOf(0x0a, p) + 1 || buf.length) {
    if (markers.some((m) => matchAscii(buf, p, m, true))) return p;
  }
  return buf.length;
}

const REQUEST_MARKERS = METHODS.map((m) => `${m} `);
const RESPONSE_MARKERS = ['HTTP/1.'];

function stripTarget(target: string): string {
  let t = target;
  const q = t.search(/[?#]/);
  if (q !== -1) t = t.slice(0, q);
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(t);
  if (abs !== null) t = t.slice(abs[0].length) || '/';
  return t;
}

/** Common shape of both directions: a head, then a body delimited as the head says. */
abstract class HttpFramer<F> implements Framer<F> {
  /** Set while inside a chunked or read-until-close body of `current`. */
  protected body: 'chunked' | 'close' | undefined;
  protected current: F | undefined;

  constructor(protected readonly conn: HttpConnState) {}

  parse(buf: Uint8Array): Step<F> {
    if (this.conn.opaque) return { kind: 'ignore', consumed: buf.length };
    const cur = this.current;
    if (this.body === 'chunked' && cur !== undefined) {
      const step = chunkStep(buf, cur);
      if (step.kind === 'frame') this.reset();
      return step;
    }
    if (this.body === 'close') return { kind: 'partial', consumed: buf.length };
    if (!this.plausible(buf)) return { kind: 'invalid', reason: 'not an HTTP/1 start line' };
    const len = headLength(buf);
    if (len === -1) return buf.length > MAX_HEAD ? { kind: 'invalid', reason: 'head too long' } : NEED;
    return this.head(readHead(buf, len), len);
  }

  reset(): void {
    this.body = undefined;
    this.current = undefined;
  }

  hole(): 'continue' | F | undefined {
    if (this.body === 'close') return 'continue';
    const f = this.current;
    this.reset();
    return f;
  }

  finish(): F | undefined {
    const f = this.body === 'close' ? this.current : undefined;
    this.reset();
    return f;
  }

  /** A head of `len` bytes was read: decide how the message continues. */
  protected abstract head(h: Head, len: number): Step<F>;
  protected abstract plausible(buf: Uint8Array): boolean;
  abstract resync(buf: Uint8Array): number;

  /** Step for a message whose head is `len` bytes and whose body is delimited as `h` says. */
  protected withBody(frame: F, h: Head, len: number, closeDelimitedAllowed: boolean): Step<F> {
    const body = bodyKind(h, closeDelimitedAllowed);
    switch (body.kind) {
      case 'invalid': return { kind: 'invalid', reason: 'bad body framing headers' };
      case 'length': return { kind: 'frame', consumed: len + body.length, frame };
      case 'chunked':
      case 'close':
        this.body = body.kind;
        this.current = frame;
        return { kind: 'partial', consumed: len };
    }
  }
}

export class RequestFramer extends HttpFramer<HttpRequest> {
  protected plausible(buf: Uint8Array): boolean {
    return plausibleRequestStart(buf);
  }

  resync(buf: Uint8Array): number {
    return resyncAt(buf, REQUEST_MARKERS);
  }

  protected head(h: Head, len: number): Step<HttpRequest> {
    const [method, target, version] = h.start;
    if (!/^HTTP\/1\.[01]$/.test(version)) return { kind: 'invalid', reason: 'not an HTTP/1 request line' };
    if (this.conn.methods.length >= MAX_QUEUED_METHODS) this.conn.methods.shift();
    this.conn.methods.push(method);
    const req: HttpRequest = { method, path: stripTarget(target), host: h.headers.get('host') ?? '', version };
    return this.withBody(req, h, len, false);
  }
}

export class ResponseFramer extends HttpFramer<HttpResponse> {
  protected plausible(buf: Uint8Array): boolean {
    return plausibleResponseStart(buf);
  }

  resync(buf: Uint8Array): number {
    return resyncAt(buf, RESPONSE_MARKERS);
  }

  protected head(h: Head, len: number): Step<HttpResponse> {
    const [version, code, reason] = h.start;
    const status = /^\d{3}$/.test(code) ? Number(code) : -1;
    if (!/^HTTP\/1\.[01]$/.test(version) || status < 100) return { kind: 'invalid', reason: 'not an HTTP/1 status line' };
    const resp: HttpResponse = { status, reason, version };
    if (status < 200 && status !== 101) return { kind: 'ignore', consumed: len }; // interim: 100 Continue
    const method = this.conn.methods.shift();
    if (status === 101 || (method === 'CONNECT' && status < 300)) {
      this.conn.opaque = true;
      return { kind: 'frame', consumed: len, frame: resp };
    }
    if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'frame', consumed: len, frame: resp };
    return this.withBody(resp, h, len, true);
  }
}
