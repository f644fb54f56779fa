/**
 * RFC 9112 message heads and bodies, shared by HTTP/1.x requests and responses: finding the end
 * of the head, locating its start line and header fields, and the chunked transfer coding as an
 * incremental state.
 */
import { indexOfCrlf, latin1, matchAscii, parseDecimal, parseHex, type RecentText } from '../bytes.js';
import type { Step } from '../types.js';

/** Heads larger than this are treated as not HTTP (real servers cap far lower). */
export const MAX_HEAD = 64 * 1024;

/** Length of the head (start line through the empty line), -1 if not complete in `buf`. */
export function headLength(buf: Uint8Array): number {
  let lineStart = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, lineStart);
    if (nl === -1) return -1;
    const empty = nl === lineStart || (nl === lineStart + 1 && buf[lineStart] === 0x0d);
    if (empty && lineStart > 0) return nl + 1;
    lineStart = nl + 1;
  }
}

/** The header fields kcap reads: framing (RFC 9112 §6) and the records need these. */
const HEAD_FIELDS: readonly string[] = ['host', 'content-length', 'transfer-encoding'];
export const HOST = 0;
const CONTENT_LENGTH = 1;
const TRANSFER_ENCODING = 2;
const FIELD_BYTES = HEAD_FIELDS.map((f) => Buffer.from(f, 'latin1'));

/** Index in HEAD_FIELDS of the field named by buf[from, to) (ASCII case-insensitive), or -1. */
function wantedField(buf: Uint8Array, from: number, to: number): number {
  // Optional whitespace before the colon is tolerated, as the old string parser did.
  while (to > from && (buf[to - 1] === 0x20 || buf[to - 1] === 0x09)) to--;
  for (let f = 0; f < FIELD_BYTES.length; f++) {
    const name = FIELD_BYTES[f]!;
    if (name.length !== to - from) continue;
    let i = 0;
    while (i < name.length && (buf[from + i]! | 0x20) === name[i]) i++;
    if (i === name.length) return f;
  }
  return -1;
}

/** The bytes String.prototype.trim removes from latin1 text: tab, LF, VT, FF, CR, space, NBSP. */
function isTrimmed(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0xa0;
}

/** End of the line starting at `from` in a head of `len` bytes: its LF, or `len`. */
function lineEnd(buf: Uint8Array, from: number, len: number): number {
  const nl = buf.indexOf(0x0a, from);
  return nl === -1 || nl >= len ? len : nl;
}

/** The line [from, nl) without a CR before its LF. */
function trimCr(buf: Uint8Array, from: number, nl: number): number {
  return nl > from && buf[nl - 1] === 0x0d ? nl - 1 : nl;
}

/** Index of `byte` in buf[from, to), or -1. */
function indexIn(buf: Uint8Array, byte: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (buf[i] === byte) return i;
  return -1;
}

/**
 * Where the parts of a message head are, found by one scan over its bytes: the start line split
 * at its first two spaces (the third part keeps its spaces) and the values of HEAD_FIELDS. Text
 * is made only of what a framer asks for, and a RecentText makes repeated text free, because heads
 * are parsed once per request. One Head per framer, reused; it keeps positions, never the bytes.
 */
export class Head {
  /** Start line part i is buf[partStart[i], partEnd[i]); an absent part is empty. */
  readonly partStart = [0, 0, 0];
  readonly partEnd = [0, 0, 0];
  /** Per HEAD_FIELDS entry: times seen, the first value's range (trimmed), all values joined by ", " when repeated. */
  private readonly seen = [0, 0, 0];
  private readonly valueStart = [0, 0, 0];
  private readonly valueEnd = [0, 0, 0];
  private readonly joined: (string | undefined)[] = [undefined, undefined, undefined];

  /** Scans the head of `len` bytes at the start of `buf`. */
  read(buf: Uint8Array, len: number): this {
    const firstEnd = lineEnd(buf, 0, len);
    this.splitStart(buf, trimCr(buf, 0, firstEnd));
    this.seen.fill(0);
    for (let from = firstEnd + 1; from < len;) {
      const nl = lineEnd(buf, from, len);
      const end = trimCr(buf, from, nl);
      const colon = buf.indexOf(0x3a, from);
      if (colon > from && colon < end) {
        const f = wantedField(buf, from, colon);
        if (f !== -1) this.addValue(buf, f, colon + 1, end);
      }
      from = nl + 1;
    }
    return this;
  }

  /** Whether start line part `i` is exactly `HTTP/1.0` or `HTTP/1.1`. */
  isVersion(buf: Uint8Array, i: number): boolean {
    const at = this.partStart[i]!;
    return this.partEnd[i]! - at === 8 && matchAscii(buf, at, 'HTTP/1.') && (buf[at + 7] === 0x30 || buf[at + 7] === 0x31);
  }

  /** The version in part `i`, which isVersion accepted. */
  version(buf: Uint8Array, i: number): string {
    return buf[this.partStart[i]! + 7] === 0x31 ? 'HTTP/1.1' : 'HTTP/1.0';
  }

  /** Start line part `i` as text. */
  part(buf: Uint8Array, i: number, recent: RecentText): string {
    return recent.get(buf, this.partStart[i]!, this.partEnd[i]!);
  }

  /** Field `f`'s value (repeated values joined with ", "), undefined when absent. */
  field(buf: Uint8Array, f: number, recent?: RecentText): string | undefined {
    const n = this.seen[f]!;
    if (n === 0) return undefined;
    if (n > 1) return this.joined[f];
    return recent ? recent.get(buf, this.valueStart[f]!, this.valueEnd[f]!) : latin1(buf, this.valueStart[f]!, this.valueEnd[f]!);
  }

  /** The Content-Length when it is one field of plain digits (the common case), else -1. */
  plainLength(buf: Uint8Array): number {
    return this.seen[CONTENT_LENGTH] === 1 ? parseDecimal(buf, this.valueStart[CONTENT_LENGTH]!, this.valueEnd[CONTENT_LENGTH]!) : -1;
  }

  private splitStart(buf: Uint8Array, end: number): void {
    const sp1 = indexIn(buf, 0x20, 0, end);
    const sp2 = sp1 === -1 ? -1 : indexIn(buf, 0x20, sp1 + 1, end);
    const ps = this.partStart;
    const pe = this.partEnd;
    ps[0] = 0;
    pe[0] = sp1 === -1 ? end : sp1;
    ps[1] = sp1 === -1 ? end : sp1 + 1;
    pe[1] = sp2 === -1 ? end : sp2;
    ps[2] = sp2 === -1 ? end : sp2 + 1;
    pe[2] = end;
  }

  private addValue(buf: Uint8Array, f: number, from: number, to: number): void {
    while (from < to && isTrimmed(buf[from]!)) from++;
    while (to > from && isTrimmed(buf[to - 1]!)) to--;
    const n = ++this.seen[f]!;
    if (n === 1) {
      this.valueStart[f] = from;
      this.valueEnd[f] = to;
      return;
    }
    const had = n === 2 ? latin1(buf, this.valueStart[f]!, this.valueEnd[f]!) : this.joined[f]!;
    this.joined[f] = `${had}, ${latin1(buf, from, to)}`;
  }
}

/** How the body after a head is delimited (RFC 9112 §6.3): a length >= 0, or one of these. */
const CHUNKED = -1;
export const UNTIL_CLOSE = -2;
export const BAD_FRAMING = -3;

export function bodyLength(h: Head, buf: Uint8Array, closeDelimitedAllowed: boolean): number {
  const te = h.field(buf, TRANSFER_ENCODING);
  if (te !== undefined) {
    if (/(?:^|,)\s*chunked\s*$/i.test(te)) return CHUNKED;
    return closeDelimitedAllowed ? UNTIL_CLOSE : BAD_FRAMING;
  }
  const plain = h.plainLength(buf);
  if (plain >= 0) return plain;
  const cl = h.field(buf, CONTENT_LENGTH);
  if (cl !== undefined) {
    const first = cl.split(',')[0]?.trim() ?? '';
    if (!/^\d{1,15}$/.test(first)) return BAD_FRAMING;
    return Number(first);
  }
  return closeDelimitedAllowed ? UNTIL_CLOSE : 0;
}

/**
 * One step through a chunked body: a data chunk (as `partial`, its bytes skippable) or the last
 * chunk with its trailer section, which ends the message with `frame`.
 */
export function chunkStep<F>(buf: Uint8Array, frame: F): Step<F> {
  const eol = indexOfCrlf(buf, 0, Math.min(buf.length, 1024));
  if (eol === -1) return buf.length > 1024 ? { kind: 'invalid', reason: 'chunk size line too long' } : { kind: 'need' };
  const semi = buf.subarray(0, eol).indexOf(0x3b);
  const size = parseHex(buf, 0, semi === -1 ? eol : semi);
  if (size < 0) return { kind: 'invalid', reason: 'bad chunk size' };
  if (size > 0) return { kind: 'partial', consumed: eol + 2 + size + 2 };
  // Last chunk: trailer fields, then an empty line.
  if (buf.length < eol + 4) return { kind: 'need' };
  if (buf[eol + 2] === 0x0d && buf[eol + 3] === 0x0a) return { kind: 'frame', consumed: eol + 4, frame };
  const rest = headLength(buf.subarray(eol));
  if (rest === -1) return buf.length > MAX_HEAD ? { kind: 'invalid', reason: 'trailers too long' } : { kind: 'need' };
  return { kind: 'frame', consumed: eol + rest, frame };
}
