/**
 * Small byte helpers shared by the parsers: line ends, ASCII numbers and bounded text. All take
 * explicit bounds and return a sentinel (-1, NaN-free) instead of throwing on odd input.
 */

/** Longest text kept from a capture in a record field; payloads are bounded by snaplen anyway. */
export const MAX_TEXT = 4096;

const CR = 0x0d;
const LF = 0x0a;

/** Bytes indexOfCrlf scans itself before handing over to indexOf: most lines are this short. */
const SHORT_LINE = 64;

/** Index of the next "\r\n" at or after `from` (its LF before `limit`), or -1. */
export function indexOfCrlf(buf: Uint8Array, from = 0, limit = buf.length): number {
  // Short protocol lines are found faster by a plain loop than by a call into indexOf.
  const near = Math.min(limit, from + SHORT_LINE);
  for (let j = from + 1; j < near; j++) {
    if (buf[j] === LF && buf[j - 1] === CR) return j - 1;
  }
  if (near >= limit) return -1;
  let i = buf.indexOf(LF, near);
  while (i !== -1 && i < limit) {
    if (i > from && buf[i - 1] === CR) return i - 1;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/** Decimal digits in buf[start, end) as a number; -1 if empty, not all digits or too large. */
export function parseDecimal(buf: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Hex digits in buf[start, end) as a number; -1 if empty, not hex or too large. */
export function parseHex(buf: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 12) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}

/** buf[start, end) as text (UTF-8, invalid sequences replaced), at most MAX_TEXT bytes. */
export function text(buf: Uint8Array, start = 0, end = buf.length): string {
  const e = Math.min(end, start + MAX_TEXT, buf.length);
  return e <= start ? '' : utf8(buf, start, e);
}

/** buf[start, end) decoded as UTF-8, invalid sequences replaced. */
export function utf8(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

/** Longest text RecentText remembers; longer text is decoded every time. */
const MAX_RECENT = 256;

/**
 * Text of a byte range that tends to repeat (a method, path, host, command, key): when the bytes
 * are those of the previous call, the previous string is returned instead of decoding again, so
 * a stream of like requests decodes nothing. Same bytes, same text, so this never changes a result.
 */
export class RecentText {
  private readonly bytes = new Uint8Array(MAX_RECENT);
  private len = -1;
  private str = '';

  constructor(private readonly decode: (buf: Uint8Array, start: number, end: number) => string) {}

  get(buf: Uint8Array, start: number, end: number): string {
    const n = end - start;
    const b = this.bytes;
    if (n === this.len) {
      let i = 0;
      while (i < n && b[i] === buf[start + i]) i++;
      if (i === n) return this.str;
    }
    const s = this.decode(buf, start, end);
    if (n <= MAX_RECENT) {
      for (let i = 0; i < n; i++) b[i] = buf[start + i]!;
      this.len = n;
      this.str = s;
    }
    return s;
  }
}

/** buf[start, end) as ISO-8859-1 text (one character per byte). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/** True when buf at `at` holds exactly the ASCII string `s` (or a prefix of it, if `prefixOk` and buf ends). */
export function matchAscii(buf: Uint8Array, at: number, s: string, prefixOk = false): boolean {
  for (let i = 0; i < s.length; i++) {
    if (at + i >= buf.length) return prefixOk;
    if (buf[at + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

/** True when every byte of buf[start, end) is printable ASCII or tab. */
export function isPrintable(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if ((c < 0x20 || c > 0x7e) && c !== 0x09) return false;
  }
  return true;
}

/** A request target's path: query and fragment dropped, the origin of an absolute form removed. */
export function pathOfTarget(target: string): string {
  let t = target;
  const q = t.search(/[?#]/);
  if (q !== -1) t = t.slice(0, q);
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(t);
  if (abs !== null) t = t.slice(abs[0].length) || '/';
  return t;
}
