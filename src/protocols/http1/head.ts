/**
 * RFC 9112 message heads and bodies, shared by HTTP/1.x requests and responses: finding the end
 * of the head, reading header fields, and the chunked transfer coding as an incremental state.
 */
import { indexOfCrlf, parseHex } from '../bytes.js';
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

export interface Head {
  /** Start line split at spaces (at most three parts; the third keeps its spaces). */
  readonly start: readonly [string, string, string];
  /**
   * The header fields kcap reads (HEAD_FIELDS), names lower-cased; repeated fields joined with
   * ", ". Other fields are skipped without being decoded: heads are parsed once per request.
   */
  readonly headers: ReadonlyMap<string, string>;
}

/** Fields that framing (RFC 9112 §6) and the records need. */
export const HEAD_FIELDS: readonly string[] = ['host', 'content-length', 'transfer-encoding'];
const FIELD_BYTES = HEAD_FIELDS.map((f) => Buffer.from(f, 'latin1'));

function latin1(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1');
}

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

/** Start line and the wanted header fields of a head of `len` bytes. */
export function readHead(buf: Uint8Array, len: number): Head {
  const lineEnd = (from: number): number => {
    const nl = buf.indexOf(0x0a, from);
    return nl === -1 || nl >= len ? len : nl;
  };
  const trimCr = (from: number, nl: number): number => (nl > from && buf[nl - 1] === 0x0d ? nl - 1 : nl);
  const firstEnd = lineEnd(0);
  const first = latin1(buf, 0, trimCr(0, firstEnd));
  const sp1 = first.indexOf(' ');
  const sp2 = sp1 === -1 ? -1 : first.indexOf(' ', sp1 + 1);
  const start: [string, string, string] = sp1 === -1 ? [first, '', '']
    : sp2 === -1 ? [first.slice(0, sp1), first.slice(sp1 + 1), '']
      : [first.slice(0, sp1), first.slice(sp1 + 1, sp2), first.slice(sp2 + 1)];
  const headers = new Map<string, string>();
  for (let from = firstEnd + 1; from < len;) {
    const nl = lineEnd(from);
    const end = trimCr(from, nl);
    const colon = buf.indexOf(0x3a, from);
    if (colon > from && colon < end) {
      const f = wantedField(buf, from, colon);
      if (f !== -1) {
        const name = HEAD_FIELDS[f]!;
        const value = latin1(buf, colon + 1, end).trim();
        const had = headers.get(name);
        headers.set(name, had === undefined ? value : `${had}, ${value}`);
      }
    }
    from = nl + 1;
  }
  return { start, headers };
}

/** How the body after a head is delimited (RFC 9112 §6.3). */
export type BodyKind =
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' }
  | { readonly kind: 'invalid' };

export function bodyKind(h: Head, closeDelimitedAllowed: boolean): BodyKind {
  const te = h.headers.get('transfer-encoding');
  if (te !== undefined) {
    if (/(?:^|,)\s*chunked\s*$/i.test(te)) return { kind: 'chunked' };
    return closeDelimitedAllowed ? { kind: 'close' } : { kind: 'invalid' };
  }
  const cl = h.headers.get('content-length');
  if (cl !== undefined) {
    const first = cl.split(',')[0]?.trim() ?? '';
    if (!/^\d{1,15}$/.test(first)) return { kind: 'invalid' };
    return { kind: 'length', length: Number(first) };
  }
  return closeDelimitedAllowed ? { kind: 'close' } : { kind: 'length', length: 0 };
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
