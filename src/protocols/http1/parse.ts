/**
 * HTTP/1.x framing (RFC 9112): request and response heads, bodies by Content-Length or chunked
 * coding, read-until-close responses, HEAD/1xx/204/304 without bodies, pipelining. Bodies are
 * never buffered: their lengths go to the engine as bytes to skip.
 */
import { latin1, matchAscii, parseDecimal, pathOfTarget, RecentText } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import { BAD_FRAMING, bodyLength, chunkStep, Head, headLength, HOST, MAX_HEAD, UNTIL_CLOSE } from './head.js';
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

/** The path of the request target buf[start, end): without query or fragment, origin of an absolute form removed. */
function targetPath(buf: Uint8Array, start: number, end: number, recent: RecentText): string {
  // The usual origin form without a query is its own path: no text to cut.
  if (end > start && buf[start] === 0x2f) {
    let i = start;
    while (i < end && buf[i] !== 0x3f && buf[i] !== 0x23) i++;
    if (i === end) return recent.get(buf, start, end);
  }
  return pathOfTarget(latin1(buf, start, end));
}

/** Common shape of both directions: a head, then a body delimited as the head says. */
abstract class HttpFramer<F> implements Framer<F> {
  /** Set while inside a chunked or read-until-close body of `current`. */
  protected body: 'chunked' | 'close' | undefined;
  protected current: F | undefined;
  private readonly scan = new Head();

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
    if (len !== -1 && len <= MAX_HEAD) return this.head(this.scan.read(buf, len), buf, len);
    if (len === -1 && buf.length <= MAX_HEAD) return NEED;
    // Too long. Every start before (end of the first empty line, or of the buffer) − MAX_HEAD
    // would run into the same empty line (or none) and be too long too: skip them all at once,
    // so a stream of endless heads costs linear, not quadratic, time.
    return { kind: 'invalid', reason: 'head too long', skip: (len === -1 ? buf.length : len) - MAX_HEAD };
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

  /** A head of `len` bytes at the start of `buf` was scanned: decide how the message continues. */
  protected abstract head(h: Head, buf: Uint8Array, len: number): Step<F>;
  protected abstract plausible(buf: Uint8Array): boolean;
  abstract resync(buf: Uint8Array): number;

  /** Step for a message whose head is `len` bytes and whose body is delimited as `h` says. */
  protected withBody(frame: F, h: Head, buf: Uint8Array, len: number, closeDelimitedAllowed: boolean): Step<F> {
    const body = bodyLength(h, buf, closeDelimitedAllowed);
    if (body >= 0) return { kind: 'frame', consumed: len + body, frame };
    if (body === BAD_FRAMING) return { kind: 'invalid', reason: 'bad body framing headers' };
    this.body = body === UNTIL_CLOSE ? 'close' : 'chunked';
    this.current = frame;
    return { kind: 'partial', consumed: len };
  }
}

export class RequestFramer extends HttpFramer<HttpRequest> {
  private readonly methodText = new RecentText(latin1);
  private readonly pathText = new RecentText(latin1);
  private readonly hostText = new RecentText(latin1);

  protected plausible(buf: Uint8Array): boolean {
    return plausibleRequestStart(buf);
  }

  resync(buf: Uint8Array): number {
    return resyncAt(buf, REQUEST_MARKERS);
  }

  protected head(h: Head, buf: Uint8Array, len: number): Step<HttpRequest> {
    if (!h.isVersion(buf, 2)) return { kind: 'invalid', reason: 'not an HTTP/1 request line' };
    const method = h.part(buf, 0, this.methodText);
    if (this.conn.methods.length >= MAX_QUEUED_METHODS) this.conn.methods.shift();
    this.conn.methods.push(method);
    const req: HttpRequest = {
      method, path: targetPath(buf, h.partStart[1]!, h.partEnd[1]!, this.pathText),
      host: h.field(buf, HOST, this.hostText) ?? '', version: h.version(buf, 2),
    };
    return this.withBody(req, h, buf, len, false);
  }
}

export class ResponseFramer extends HttpFramer<HttpResponse> {
  private readonly reasonText = new RecentText(latin1);

  protected plausible(buf: Uint8Array): boolean {
    return plausibleResponseStart(buf);
  }

  resync(buf: Uint8Array): number {
    return resyncAt(buf, RESPONSE_MARKERS);
  }

  protected head(h: Head, buf: Uint8Array, len: number): Step<HttpResponse> {
    const status = statusCode(buf, h.partStart[1]!, h.partEnd[1]!);
    if (!h.isVersion(buf, 0) || status < 100) return { kind: 'invalid', reason: 'not an HTTP/1 status line' };
    const resp: HttpResponse = { status, reason: h.part(buf, 2, this.reasonText), version: h.version(buf, 0) };
    if (status < 200 && status !== 101) return { kind: 'ignore', consumed: len }; // interim: 100 Continue
    const method = this.conn.methods.shift();
    if (status === 101 || (method === 'CONNECT' && status < 300)) {
      this.conn.opaque = true;
      return { kind: 'frame', consumed: len, frame: resp };
    }
    if (method === 'HEAD' || status === 204 || status === 304) return { kind: 'frame', consumed: len, frame: resp };
    return this.withBody(resp, h, buf, len, true);
  }
}

/** A status code of exactly three digits, else -1. */
function statusCode(buf: Uint8Array, start: number, end: number): number {
  return end - start === 3 ? parseDecimal(buf, start, end) : -1;
}
