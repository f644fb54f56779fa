/**
 * RESP2/RESP3 framing (redis.io/docs/reference/protocol-spec). One walker serves both directions:
 * it steps through nested values keeping a stack of elements still expected, so a frame can be
 * cut anywhere and a large bulk string is skipped, not buffered. Inline commands (a plain text
 * line, as typed into telnet) are requests too.
 */
import { indexOfCrlf, matchAscii, parseDecimal, RecentText, text, utf8 } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import type { RespFrame } from './types.js';

const MAX_LINE = 64 * 1024;
const MAX_DEPTH = 64;
const MAX_ELEMENTS = 1 << 24;
/** Longest argument text kept (command names and keys are short; values are not needed). */
const MAX_WORD = 256;

/** What each type byte opens: a one-line scalar, a length-prefixed blob, an aggregate, or nothing. */
const NOT_A_TYPE = 0;
const SCALAR_LINE = 1;
const BLOB = 2;
const AGGREGATE = 3;
const TYPE_CLASS = new Uint8Array(256);
for (const c of '+-:_,#(') TYPE_CLASS[c.charCodeAt(0)] = SCALAR_LINE;
for (const c of '$!=') TYPE_CLASS[c.charCodeAt(0)] = BLOB;
for (const c of '*%~>|') TYPE_CLASS[c.charCodeAt(0)] = AGGREGATE;
const NO_WORDS: readonly string[] = Object.freeze([]);

function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason };
}

/** A RESP value walker; `commandsOnly` makes it accept what clients send (arrays, inline). */
export class RespFramer implements Framer<RespFrame> {
  /** Elements still expected by each open aggregate, innermost last: stack[0, depth). */
  private readonly stack: number[] = [];
  private depth = 0;
  private type = '';
  /** The frame's words so far (at most two: command and key, or a scalar's value). */
  private nWords = 0;
  private word0 = '';
  private word1 = '';
  private count = 0;
  private error = '';
  /** Commands, keys and replies repeat: their text is decoded once while it does. */
  private readonly recent = [new RecentText(utf8), new RecentText(utf8)];

  constructor(private readonly commandsOnly: boolean) {}

  reset(): void {
    this.depth = 0;
    this.type = '';
    this.nWords = 0;
    this.count = 0;
    this.error = '';
  }

  resync(buf: Uint8Array): number {
    for (let p = 0; p < buf.length; p = buf.indexOf(0x0a, p) + 1 || buf.length) {
      const c = buf[p] as number;
      if (this.commandsOnly ? c === 0x2a && this.commandStart(buf, p) : TYPE_CLASS[c] !== NOT_A_TYPE) return p;
    }
    return buf.length;
  }

  /** A command is a flat array of bulk strings: `*N\r\n$` (or a prefix of that, cut by the end). */
  private commandStart(buf: Uint8Array, p: number): boolean {
    const eol = indexOfCrlf(buf, p + 1, Math.min(buf.length, p + 16));
    if (eol === -1) return buf.length - p < 16;
    return parseDecimal(buf, p + 1, eol) > 0 && (eol + 2 >= buf.length || buf[eol + 2] === 0x24);
  }

  parse(buf: Uint8Array): Step<RespFrame> {
    if (this.commandsOnly && this.depth === 0 && buf[0] !== 0x2a) return this.inline(buf);
    let pos = 0;
    for (;;) {
      if (pos >= buf.length) return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
      const t = String.fromCharCode(buf[pos] as number);
      const cls = TYPE_CLASS[buf[pos] as number];
      const eol = indexOfCrlf(buf, pos + 1, Math.min(buf.length, pos + MAX_LINE));
      if (eol === -1) {
        if (buf.length - pos > MAX_LINE) return invalid('RESP line too long');
        return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
      }
      let end: number;
      if (cls === SCALAR_LINE && !this.commandsOnly) {
        end = eol + 2;
        this.scalar(t, buf, pos + 1, eol);
      } else if (cls === BLOB && (!this.commandsOnly || t === '$')) {
        const len = parseDecimal(buf, pos + 1, eol);
        if (len < 0 && !matchAscii(buf, pos + 1, '-1\r')) return invalid('bad RESP length');
        // Text the summary keeps must be whole, so that where the stream was cut never matters.
        if (this.wantsText() && buf.length < eol + 2 + Math.min(Math.max(len, 0), MAX_WORD)) {
          return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
        }
        end = len < 0 ? eol + 2 : eol + 2 + len + 2;
        this.scalar(t, buf, eol + 2, Math.min(eol + 2 + Math.max(len, 0), buf.length));
      } else if (cls === AGGREGATE && (!this.commandsOnly || (t === '*' && this.depth === 0))) {
        const n = parseDecimal(buf, pos + 1, eol);
        if ((n < 0 && !matchAscii(buf, pos + 1, '-1\r')) || n > MAX_ELEMENTS) return invalid('bad RESP count');
        if (this.depth >= MAX_DEPTH) return invalid('RESP nesting too deep');
        const elements = t === '%' || t === '|' ? 2 * Math.max(n, 0) : Math.max(n, 0);
        if (this.depth === 0) {
          this.type = t;
          this.count = elements;
        }
        pos = eol + 2;
        if (elements > 0) {
          this.stack[this.depth++] = elements;
          continue;
        }
        end = pos;
      } else {
        return invalid(`unexpected RESP type byte 0x${(buf[pos] as number).toString(16)}`);
      }
      pos = end;
      if (!this.valueDone()) {
        if (pos > buf.length) return { kind: 'partial', consumed: pos };
        continue;
      }
      if (this.type === '|') { // an attribute map precedes the real reply
        this.reset();
        if (pos > buf.length) return { kind: 'ignore', consumed: pos };
        continue;
      }
      const frame = this.frame();
      this.reset();
      return { kind: 'frame', consumed: pos, frame };
    }
  }

  /** Bytes lost inside a (large) aggregate: report it as far as it was read. */
  hole(): RespFrame | undefined {
    const f = this.type === '' ? undefined : this.frame();
    this.reset();
    return f;
  }

  /** Whether the next scalar's text goes into the summary (see `scalar`). */
  private wantsText(): boolean {
    return this.depth === 0 || (this.depth === 1 && this.nWords < 2);
  }

  /** Record a scalar's text where the frame summary wants it. */
  private scalar(t: string, buf: Uint8Array, start: number, end: number): void {
    if (this.depth === 0) {
      this.type = t;
      const w = this.addWord(buf, start, end);
      if (t === '-' || t === '!') this.error = w;
    } else if (this.wantsText()) {
      this.addWord(buf, start, end);
    }
  }

  /** The next word: the text of buf[start, end), at most MAX_WORD bytes of it. */
  private addWord(buf: Uint8Array, start: number, end: number): string {
    const e = Math.min(end, start + MAX_WORD, buf.length);
    const i = this.nWords++;
    const w = e <= start ? '' : this.recent[i]!.get(buf, start, e);
    if (i === 0) this.word0 = w;
    else this.word1 = w;
    return w;
  }

  /** One value ended: count it off its enclosing aggregates; true when the top level is done. */
  private valueDone(): boolean {
    while (this.depth > 0) {
      const last = this.depth - 1;
      const left = (this.stack[last] as number) - 1;
      if (left > 0) {
        this.stack[last] = left;
        return false;
      }
      this.depth--;
    }
    return true;
  }

  private frame(): RespFrame {
    const words = this.nWords === 0 ? NO_WORDS : this.nWords === 1 ? [this.word0] : [this.word0, this.word1];
    return { type: this.type, words, count: this.count, error: this.error };
  }

  /** An inline command: words separated by spaces up to the line end. */
  private inline(buf: Uint8Array): Step<RespFrame> {
    const c = buf[0] as number;
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!letter) return invalid('not a RESP command');
    const nl = buf.indexOf(0x0a, 0);
    if (nl === -1) return buf.length > MAX_LINE ? invalid('inline command too long') : NEED;
    const words = text(buf, 0, nl).trim().split(/\s+/);
    return { kind: 'frame', consumed: nl + 1, frame: { type: 'i', words: words.slice(0, 2), count: words.length, error: '' } };
  }
}
