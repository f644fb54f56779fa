/**
 * memcached text protocol framing (protocol.txt in the memcached sources), classic and meta
 * commands. Requests are one line plus a data block for storage commands; replies are one line,
 * or VALUE/STAT lines with data blocks closed by END. Data blocks are skipped, not buffered.
 */
import { indexOfCrlf, isPrintable, matchAscii, text } from '../bytes.js';
import type { Framer, Step } from '../types.js';
import { NEED } from '../types.js';
import type { McRequest, McResponse } from './types.js';

/** A multi-key get line can hold thousands of 250-byte keys; the server reads it in pieces. */
const MAX_LINE = 256 * 1024;

/** Commands followed by a data block, and where its length is among the words. */
const DATA_LENGTH_WORD: Readonly<Record<string, number>> = {
  set: 4, add: 4, replace: 4, append: 4, prepend: 4, cas: 4, ms: 2,
};
const RETRIEVAL = new Set(['get', 'gets', 'gat', 'gats']);
export const COMMANDS = [
  'get', 'gets', 'gat', 'gats', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'delete', 'incr',
  'decr', 'touch', 'stats', 'flush_all', 'version', 'verbosity', 'quit', 'mg', 'ms', 'md', 'ma', 'mn', 'me',
  'shutdown', 'cache_memlimit', 'lru_crawler', 'slabs', 'watch', 'misbehave',
];
const COMMAND_SET = new Set(COMMANDS);
const KEYLESS = new Set(['stats', 'flush_all', 'version', 'verbosity', 'quit', 'mn', 'shutdown', 'cache_memlimit', 'lru_crawler', 'slabs', 'watch', 'misbehave']);
/** Reply words that open a VALUE/STAT list closed by END. */
const LIST_ITEMS = new Set(['VALUE', 'STAT', 'ITEM']);

/** A data block length word, -1 when it is not one. */
function dataLength(w: string | undefined): number {
  return w !== undefined && /^\d{1,10}$/.test(w) ? Number(w) : -1;
}

function invalid(reason: string): Step<never> {
  return { kind: 'invalid', reason };
}

/** Space-separated words in buf[0, end). */
function countWords(buf: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (buf[i] !== 0x20 && (i === 0 || buf[i - 1] === 0x20)) n++;
  return n;
}

/**
 * The next CRLF-terminated, printable line of `buf`: its first words (from a bounded prefix),
 * how many words it has, where it ends; null = need more; undefined = invalid.
 */
function line(buf: Uint8Array): { words: string[]; count: number; end: number } | null | undefined {
  const eol = indexOfCrlf(buf, 0, Math.min(buf.length, MAX_LINE));
  if (eol === -1) return buf.length >= MAX_LINE || !isPrintable(buf, 0, buf.length - (buf[buf.length - 1] === 0x0d ? 1 : 0)) ? undefined : null;
  if (!isPrintable(buf, 0, eol)) return undefined;
  return { words: text(buf, 0, eol).split(' ').filter((w) => w !== ''), count: countWords(buf, eol), end: eol + 2 };
}

function lineStartResync(buf: Uint8Array, ok: (buf: Uint8Array, p: number) => boolean): number {
  for (let p = 0; p < buf.length; p = buf.indexOf(0x0a, p) + 1 || buf.length) {
    if (ok(buf, p)) return p;
  }
  return buf.length;
}

export class RequestFramer implements Framer<McRequest> {
  parse(buf: Uint8Array): Step<McRequest> {
    const l = line(buf);
    if (l === null) return NEED;
    if (l === undefined) return invalid('not a memcached command line');
    const command = (l.words[0] ?? '').toLowerCase();
    // The server answers any other word with ERROR, so an unknown command is still a request.
    if (!COMMAND_SET.has(command) && !/^[a-z_]{1,32}$/.test(command)) return invalid('not a memcached command');
    const at = DATA_LENGTH_WORD[command];
    let consumed = l.end;
    if (at !== undefined) {
      const n = dataLength(l.words[at]);
      if (n < 0) return invalid('bad data length');
      consumed += n + 2;
    }
    const meta = command.length === 2;
    const quiet = meta ? l.words.slice(2).includes('q') : l.words[l.words.length - 1] === 'noreply' || command === 'quit';
    const frame: McRequest = {
      command,
      key: KEYLESS.has(command) ? '' : l.words[1] ?? '',
      keys: RETRIEVAL.has(command) ? Math.max(0, l.count - (command.startsWith('gat') ? 2 : 1)) : 0,
      quiet,
    };
    return { kind: 'frame', consumed, frame };
  }

  resync(buf: Uint8Array): number {
    return lineStartResync(buf, (b, p) => COMMANDS.some((c) => matchAscii(b, p, `${c} `, true)));
  }

  reset(): void {}
}

export class ResponseFramer implements Framer<McResponse> {
  /** Items of a VALUE/STAT list seen so far, while inside one. */
  private items = -1;

  parse(buf: Uint8Array): Step<McResponse> {
    const l = line(buf);
    if (l === null) return NEED;
    if (l === undefined) return invalid('not a memcached reply line');
    const word = l.words[0] ?? '';
    if (LIST_ITEMS.has(word)) {
      const n = word === 'VALUE' ? dataLength(l.words[3]) : 0;
      if (n < 0) return invalid('bad VALUE length');
      this.items = Math.max(this.items, 0) + 1;
      return { kind: 'partial', consumed: l.end + (word === 'VALUE' ? n + 2 : 0) };
    }
    const hits = Math.max(this.items, 0);
    if (this.items >= 0 && word !== 'END') return invalid(`"${word.slice(0, 32)}" inside a value list`);
    this.items = -1;
    if (word === 'VA') { // meta get hit: VA <size> <flags>*
      const n = dataLength(l.words[1]);
      if (n < 0) return invalid('bad VA length');
      return { kind: 'frame', consumed: l.end + n + 2, frame: { word, hits: 1, error: '' } };
    }
    if (!/^([A-Z_]+|\d+)$/.test(word)) return invalid('not a memcached reply');
    const error = word.endsWith('ERROR') ? l.words.slice(1).join(' ') || word : '';
    return { kind: 'frame', consumed: l.end, frame: { word: /^\d/.test(word) ? 'NUMBER' : word, hits, error } };
  }

  resync(buf: Uint8Array): number {
    return lineStartResync(buf, (b, p) => {
      const c = b[p] as number;
      return (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
    });
  }

  reset(): void {
    this.items = -1;
  }

  /** Bytes lost inside a value list (a large value beyond the snaplen): report what was read. */
  hole(): McResponse | undefined {
    const f = this.items > 0 ? { word: 'END', hits: this.items, error: '' } : undefined;
    this.reset();
    return f;
  }
}
