/**
 * HPACK header block decoder (RFC 7541), one per direction of an HTTP/2 connection.
 *
 * `decode(block)` turns one complete header block (HEADERS + CONTINUATION payloads, joined by
 * the frame layer) into a header list, updating the dynamic table as the block says. It never
 * throws: every result is `{ headers }` or `{ error }`, and nothing the bytes say makes it
 * allocate beyond the limits below. Names and values are decoded as UTF-8 (invalid sequences
 * replaced), as HTTP/1 text is in bytes.ts; table sizes count the wire octets.
 *
 * Joined mid-way (`joinedMidway: true`, or after `forget()`): the capture did not see the blocks
 * that filled the dynamic table. What is known then is exactly the static table and the entries
 * inserted by blocks this decoder decoded since; entries are addressed newest first, so those
 * keep their true indexes whatever came before. A reference past them yields a header marked
 * `unknown` with `undefined` for what the entry would have supplied, never a guess. A literal with
 * an unknown name is inserted with its name unknown, and its size counted without the name (the
 * true table is then never shorter than the one kept here, so kept indexes stay true). A size
 * update to 0 empties the table, after which everything is known again.
 */

import { utf8 } from '../bytes.js';
import { decodeHuffman } from './huffman.js';

/** A decoded header field. `unknown` only in the joined-mid-way state (see above). */
export type Header =
  | { readonly unknown: false; readonly name: string; readonly value: string; readonly neverIndexed: boolean }
  | { readonly unknown: true; readonly name: string | undefined; readonly value: string | undefined; readonly neverIndexed: boolean };

export type DecodeResult = { readonly headers: Header[] } | { readonly error: string };

export interface HpackOptions {
  /** SETTINGS_HEADER_TABLE_SIZE this side advertised: the most a size update may ask. Default 4096. */
  readonly maxTableSize?: number;
  /** The connection started before the capture: earlier dynamic entries are unknown. */
  readonly joinedMidway?: boolean;
}

/** Bounds on what one block may make the decoder hold. */
export const HPACK_LIMITS = Object.freeze({
  /** Longest header block accepted (HEADERS + CONTINUATION payloads). */
  block: 256 * 1024,
  /** Longest name or value, in octets after Huffman decoding. */
  string: 64 * 1024,
  /** Largest header list: name + value octets + 32 per field, as SETTINGS_MAX_HEADER_LIST_SIZE counts. */
  list: 256 * 1024,
  /** Largest table size a decoder may be given (SETTINGS allows 2^32-1; no peer needs that much). */
  table: 1024 * 1024,
});

export const DEFAULT_TABLE_SIZE = 4096;

/** RFC 7541 §4.1: an entry's size is its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;

/** RFC 7541 Appendix A, index 1 first. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length;


/** One dynamic table entry; `name` undefined when it came from an unknown entry. */
export interface TableEntry {
  readonly name: string | undefined;
  readonly value: string;
  /** Wire octets of the name (0 when unknown). */
  readonly nameOctets: number;
  /** Octets counted against the table size: 32 + name (when known) + value. */
  readonly size: number;
}

/** Integer results below zero: the block ended inside it, or it exceeded 2^31-1 / 5 continuation bytes. */
const TRUNCATED = -1;
const OVERFLOW = -2;
const MAX_INTEGER = 0x7fffffff;
const MAX_CONTINUATION = 5;

/** Huffman output for one string; shared (decoding is synchronous), so no decoder holds its own. */
const scratch = new Uint8Array(HPACK_LIMITS.string);

/** The last string literal read: its text and wire octets (after Huffman decoding). */
interface Literal { text: string; octets: number }

export class HpackDecoder {
  /** Ring of entries, newest at `head`. */
  private ring: (TableEntry | undefined)[];
  private head = 0;
  private count = 0;
  private bytes = 0;
  /** Current maximum (from size updates), at most `limit`. */
  private max: number;
  private limit: number;
  /** False while entries older than the join (or a loss) may still be in the table. */
  private complete: boolean;
  /** Read position in the block being decoded. */
  private pos = 0;
  /** Name + value octets of the field just read, for the header list bound. */
  private fieldOctets = 0;
  private readonly literal: Literal = { text: '', octets: 0 };

  constructor(options: HpackOptions = {}) {
    this.limit = clampTable(options.maxTableSize ?? DEFAULT_TABLE_SIZE);
    this.max = this.limit;
    this.complete = !options.joinedMidway;
    this.ring = new Array<TableEntry | undefined>(ringSize(this.limit));
  }

  /** True when every dynamic entry is known (not joined mid-way, or since emptied). */
  get known(): boolean { return this.complete; }

  /** Dynamic table octets (RFC 7541 §4.1), as far as known. */
  get tableSize(): number { return this.bytes; }

  /** The table's current maximum size (the last size update, at most SETTINGS_HEADER_TABLE_SIZE). */
  get tableMax(): number { return this.max; }

  /** Dynamic entries newest first (index 62 first), for tests and `kcap print`. */
  entries(): TableEntry[] {
    const out: TableEntry[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.entry(i));
    return out;
  }

  /**
   * This side's SETTINGS_HEADER_TABLE_SIZE took effect (acknowledged). A lower value shrinks the
   * table now: the encoder must send a size update at most this large before its next block.
   */
  setMaxTableSize(size: number): void {
    const limit = clampTable(size);
    const kept = this.entries();
    this.ring = new Array<TableEntry | undefined>(ringSize(limit));
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    this.limit = limit;
    this.max = Math.min(this.max, limit);
    for (let i = kept.length - 1; i >= 0; i--) this.insert(kept[i]!);
  }

  /** Bytes of this direction were lost: every dynamic entry's index is in doubt from now on. */
  forget(): void {
    this.ring.fill(undefined);
    this.count = 0;
    this.bytes = 0;
    this.complete = false;
  }

  /** Decodes one complete header block. After an error the table is forgotten (see `forget`). */
  decode(block: Uint8Array): DecodeResult {
    if (block.length > HPACK_LIMITS.block) return this.fail(`header block of ${block.length} bytes exceeds ${HPACK_LIMITS.block}`);
    const headers: Header[] = [];
    let listSize = 0;
    this.pos = 0;
    while (this.pos < block.length) {
      const at = this.pos;
      const b = block[at]!;
      let h: Header | string;
      if (b & 0x80) h = this.indexed(block);
      else if ((b & 0xe0) === 0x20) {
        const e = headers.length === 0 ? this.sizeUpdate(block) : 'dynamic table size update after a header field';
        if (e !== undefined) return this.fail(`${e} at byte ${at}`);
        continue;
      } else h = this.literalField(block, b);
      if (typeof h === 'string') return this.fail(`${h} at byte ${at}`);
      listSize += ENTRY_OVERHEAD + this.fieldOctets;
      if (listSize > HPACK_LIMITS.list) return this.fail(`header list exceeds ${HPACK_LIMITS.list} bytes at byte ${at}`);
      headers.push(h);
    }
    return { headers };
  }

  private fail(reason: string): DecodeResult {
    this.forget();
    return { error: `HPACK: ${reason}` };
  }

  /** §6.1: `1xxxxxxx`, a whole field from the table. */
  private indexed(block: Uint8Array): Header | string {
    const index = this.integer(block, 7);
    if (index < 0) return integerError(index, 'index');
    if (index === 0) return 'index 0';
    if (index <= STATIC_COUNT) {
      const [name, value] = STATIC_TABLE[index - 1]!;
      this.fieldOctets = name.length + value.length;
      return { unknown: false, name, value, neverIndexed: false };
    }
    const e = this.dynamic(index);
    if (typeof e === 'string') return e;
    this.fieldOctets = e === undefined ? 0 : e.size - ENTRY_OVERHEAD;
    if (e === undefined) return { unknown: true, name: undefined, value: undefined, neverIndexed: false };
    return e.name === undefined
      ? { unknown: true, name: undefined, value: e.value, neverIndexed: false }
      : { unknown: false, name: e.name, value: e.value, neverIndexed: false };
  }

  /** §6.2: with incremental indexing `01`, without `0000`, never indexed `0001`. */
  private literalField(block: Uint8Array, first: number): Header | string {
    const indexing = (first & 0xc0) === 0x40;
    const neverIndexed = (first & 0xf0) === 0x10;
    const index = this.integer(block, indexing ? 6 : 4);
    if (index < 0) return integerError(index, 'name index');
    let name: string | undefined;
    let nameOctets = 0;
    if (index === 0) {
      const e = this.string(block);
      if (e !== undefined) return `${e} in a name`;
      name = this.literal.text;
      nameOctets = this.literal.octets;
    } else if (index <= STATIC_COUNT) {
      name = STATIC_TABLE[index - 1]![0];
      nameOctets = name.length;
    } else {
      const e = this.dynamic(index);
      if (typeof e === 'string') return e;
      name = e?.name;
      nameOctets = e?.nameOctets ?? 0;
    }
    const e = this.string(block);
    if (e !== undefined) return `${e} in a value`;
    const value = this.literal.text;
    this.fieldOctets = nameOctets + this.literal.octets;
    if (indexing) this.insert({ name, value, nameOctets, size: ENTRY_OVERHEAD + this.fieldOctets });
    return name === undefined
      ? { unknown: true, name, value, neverIndexed }
      : { unknown: false, name, value, neverIndexed };
  }

  /** §6.3: `001xxxxx`, only before the block's first field. Returns an error or undefined. */
  private sizeUpdate(block: Uint8Array): string | undefined {
    const size = this.integer(block, 5);
    if (size < 0) return integerError(size, 'table size');
    if (size > this.limit) return `dynamic table size update to ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.limit}`;
    this.max = size;
    this.evict(0);
    if (size === 0) this.complete = true;
    return undefined;
  }

  /** Dynamic index (> 61): the entry, undefined when unknown (joined mid-way), or an error. */
  private dynamic(index: number): TableEntry | undefined | string {
    const i = index - STATIC_COUNT - 1;
    if (i < this.count) return this.entry(i);
    // However much the capture missed, the table can hold no more than limit / 32 entries.
    if (this.complete || i >= Math.floor(this.limit / ENTRY_OVERHEAD)) {
      return `index ${index} beyond the dynamic table (${this.count} entries)`;
    }
    return undefined;
  }

  /** The i-th newest entry, 0 <= i < count. */
  private entry(i: number): TableEntry {
    const n = this.ring.length;
    return this.ring[(this.head - i + n) % n]!;
  }

  /** §4.4: evict until the entry fits; an entry larger than the table empties it and is dropped. */
  private insert(e: TableEntry): void {
    if (e.size > this.max) {
      this.evict(this.max);
      return;
    }
    this.evict(e.size);
    this.head = (this.head + 1) % this.ring.length;
    this.ring[this.head] = e;
    this.count++;
    this.bytes += e.size;
  }

  /** §4.3: drop the oldest entries until `room` more octets fit under the current maximum. */
  private evict(room: number): void {
    const n = this.ring.length;
    while (this.count > 0 && this.bytes + room > this.max) {
      const oldest = (this.head - this.count + 1 + n) % n;
      this.bytes -= this.ring[oldest]!.size;
      this.ring[oldest] = undefined;
      this.count--;
    }
  }

  /** §5.1: an integer with an N-bit prefix at `pos`; TRUNCATED or OVERFLOW below zero. */
  private integer(block: Uint8Array, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & mask;
    if (value < mask) return value;
    let shift = 0;
    for (let k = 0; k < MAX_CONTINUATION; k++) {
      if (this.pos >= block.length) return TRUNCATED;
      const b = block[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (value > MAX_INTEGER) return OVERFLOW;
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
    return OVERFLOW;
  }

  /** §5.2: a string literal at `pos` into `this.literal`; an error, or undefined when read. */
  private string(block: Uint8Array): string | undefined {
    if (this.pos >= block.length) return 'block ends before a string';
    const huffman = (block[this.pos]! & 0x80) !== 0;
    const length = this.integer(block, 7);
    if (length < 0) return integerError(length, 'string length');
    if (length > HPACK_LIMITS.string) return `string of ${length} bytes exceeds ${HPACK_LIMITS.string}`;
    const start = this.pos;
    const end = start + length;
    if (end > block.length) return `string of ${length} bytes runs past the block end`;
    this.pos = end;
    if (!huffman) {
      this.literal.text = length === 0 ? '' : utf8(block, start, end);
      this.literal.octets = length;
      return undefined;
    }
    const n = decodeHuffman(block, start, end, scratch);
    if (typeof n === 'string') return `Huffman string: ${n === 'too long' ? `decodes to over ${HPACK_LIMITS.string} bytes` : n}`;
    this.literal.text = n === 0 ? '' : utf8(scratch, 0, n);
    this.literal.octets = n;
    return undefined;
  }
}

function integerError(code: number, what: string): string {
  return code === TRUNCATED ? `block ends inside the ${what}` : `${what} exceeds 2^31-1 or ${MAX_CONTINUATION} continuation bytes`;
}

function clampTable(size: number): number {
  return Number.isFinite(size) && size > 0 ? Math.min(Math.floor(size), HPACK_LIMITS.table) : 0;
}

/** Ring slots for a table of `limit` octets: every entry takes at least 32. */
function ringSize(limit: number): number {
  return Math.floor(limit / ENTRY_OVERHEAD) + 1;
}
