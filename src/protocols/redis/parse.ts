/**
 * RESP2/RESP3 framing (redis.io/docs/reference/protocol-spec). One walker serves both directions:
 * it steps through nested values keeping a stack of elements still expected, so a frame can be
 * cut anywhere and a large bulk string is skipped, not buffered. Inline commands (a plain text
 * line, as typed into telnet) are requests too.
 */
import { indexOfCrlf, matchAscii, parseDecimal, text } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import type { RespFrame } from './types.js';

const MAX_LINE = 64 * 1024;
const MAX_DEPTH = 64;
const MAX_ELEMENTS = 1 << 24;
/** Longest argument text kept (command names and keys are short; values are not needed). */
const MAX_WORD = 256;

const SCALAR_LINE = new Set(['+', '-', ':', '_', ',', '#', '(']);
const BLOB = new Set(['$', '!', '=']);
const AGGREGATE = new Set(['*', '%', '~', '>', '|']);
const ANY_TYPE = new Set([...SCALAR_LINE, ...BLOB, ...AGGREGATE]);

function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason };
}

/** A RESP value walker; `commandsOnly` makes it accept what clients send (arrays, inline). */
export class RespFramer implements Framer<RespFrame> {
  /** Elements still expected by each open aggregate, innermost last. */
  private stack: number[] = [];
  private type = '';
  private words: string[] = [];
  private count = 0;
  private error = '';

  constructor(private readonly commandsOnly: boolean) {}

  reset(): void {
    this.stack = [];
    this.type = '';
    this.words = [];
    this.count = 0;
    this.error = '';
  }

  resync(buf: Uint8Array): number {
    for (let p = 0; p < buf.length; p = buf.indexOf(0x0a, p) + 1 || buf.length) {
      const c = String.fromCharCode(buf[p] as number);
      if (this.commandsOnly ? c === '*' : ANY_TYPE.has(c)) return p;
    }
    return buf.length;
  }

  parse(buf: Uint8Array): Step<RespFrame> {
    const first = String.fromCharCode(buf[0] as number);
    if (this.commandsOnly && this.stack.length === 0 && first !== '*') return this.inline(buf);
    let pos = 0;
    for (;;) {
      if (pos >= buf.length) return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
      const t = String.fromCharCode(buf[pos] as number);
      const eol = indexOfCrlf(buf, pos + 1, Math.min(buf.length, pos + MAX_LINE));
      if (eol === -1) {
        if (buf.length - pos > MAX_LINE) return invalid('RESP line too long');
        return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
      }
      let end: number;
      if (SCALAR_LINE.has(t) && !this.commandsOnly) {
        end = eol + 2;
        this.scalar(t, buf, pos + 1, eol);
      } else if (BLOB.has(t) && (!this.commandsOnly || t === '$')) {
        const len = parseDecimal(buf, pos + 1, eol);
        if (len < 0 && !matchAscii(buf, pos + 1, '-1\r')) return invalid('bad RESP length');
        // Text the summary keeps must be whole, so that where the stream was cut never matters.
        if (this.wantsText() && buf.length < eol + 2 + Math.min(Math.max(len, 0), MAX_WORD)) {
          return pos > 0 ? { kind: 'partial', consumed: pos } : NEED;
        }
        end = len < 0 ? eol + 2 : eol + 2 + len + 2;
        this.scalar(t, buf, eol + 2, Math.min(eol + 2 + Math.max(len, 0), buf.length));
      } else if (AGGREGATE.has(t) && (!this.commandsOnly || t === '*')) {
        const n = parseDecimal(buf, pos + 1, eol);
        if ((n < 0 && !matchAscii(buf, pos + 1, '-1\r')) || n > MAX_ELEMENTS) return invalid('bad RESP count');
        if (this.stack.length >= MAX_DEPTH) return invalid('RESP nesting too deep');
        const elements = t === '%' || t === '|' ? 2 * Math.max(n, 0) : Math.max(n, 0);
        if (this.stack.length === 0) {
          this.type = t;
          this.count = elements;
        }
        pos = eol + 2;
        if (elements > 0) {
          this.stack.push(elements);
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
    return this.stack.length === 0 || (this.stack.length === 1 && this.words.length < 2);
  }

  /** Record a scalar's text where the frame summary wants it. */
  private scalar(t: string, buf: Uint8Array, start: number, end: number): void {
    const depth = this.stack.length;
    if (depth === 0) {
      this.type = t;
      this.words.push(text(buf, start, Math.min(end, start + MAX_WORD)));
      if (t === '-' || t === '!') this.error = text(buf, start, Math.min(end, start + MAX_WORD));
    } else if (this.wantsText()) {
      this.words.push(text(buf, start, Math.min(end, start + MAX_WORD)));
    }
  }

  /** One value ended: count it off its enclosing aggregates; true when the top level is done. */
  private valueDone(): boolean {
    while (this.stack.length > 0) {
      const last = this.stack.length - 1;
      const left = (this.stack[last] as number) - 1;
      if (left > 0) {
        this.stack[last] = left;
        return false;
      }
      this.stack.pop();
    }
    return true;
  }

  private frame(): RespFrame {
    return { type: this.type, words: this.words, count: this.count, error: this.error };
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
