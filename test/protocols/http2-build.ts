/**
 * Builds HTTP/2 bytes for tests from the RFCs' layouts, independently of the parsers: frames
 * (RFC 9113 §4.1), the client preface (§3.4), SETTINGS/RST_STREAM/GOAWAY/WINDOW_UPDATE payloads
 * (§6), and HPACK header blocks (RFC 7541 §5, §6) with each field's representation chosen by the
 * test (indexed, literal with or without indexing, never indexed, Huffman or not, size updates).
 * `headersBlock` keeps no model of the dynamic table: a test that wants an indexed dynamic field
 * names its index (62 = newest entry), so what the block says is in the test. `HpackEncoder`
 * does keep one and indexes what it sent before, as real encoders do, for tests that want whole
 * conversations (a connection joined mid-way then refers to entries the parser never saw).
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../src/protocols/http2/huffman.js';
import {
  CLIENT_PREFACE, CONTINUATION, DATA, FLAG_ACK, FLAG_END_HEADERS, FLAG_END_STREAM, FRAME_HEADER, GOAWAY, HEADERS, RST_STREAM, SETTINGS,
} from '../../src/protocols/http2/types.js';
import { concat, enc } from './support.js';


/**
 * A frame: length(24) type(8) flags(8) R+stream(31), then the payload. `length` other than the
 * payload's (to build malformed or cut frames) is written as given.
 */
export function frame(type: number, flags: number, stream: number, payload: Uint8Array = new Uint8Array(0), length = payload.length): Uint8Array {
  const b = new Uint8Array(FRAME_HEADER + payload.length);
  b[0] = (length >>> 16) & 0xff;
  b[1] = (length >>> 8) & 0xff;
  b[2] = length & 0xff;
  b[3] = type;
  b[4] = flags;
  new DataView(b.buffer).setUint32(5, stream >>> 0);
  b.set(payload, FRAME_HEADER);
  return b;
}

/** The client connection preface bytes. */
export function preface(): Uint8Array {
  return enc(CLIENT_PREFACE);
}

export const PREFACE = preface();

/** Big-endian 32-bit words. */
export function u32(...values: number[]): Uint8Array {
  const b = new Uint8Array(4 * values.length);
  values.forEach((v, i) => new DataView(b.buffer).setUint32(4 * i, v >>> 0));
  return b;
}

/** A SETTINGS payload: (id, value) pairs, 6 bytes each. */
export function settingsPayload(...pairs: readonly (readonly [number, number])[]): Uint8Array {
  return concat(...pairs.map(([id, value]) => {
    const b = new Uint8Array(6);
    new DataView(b.buffer).setUint16(0, id);
    new DataView(b.buffer).setUint32(2, value >>> 0);
    return b;
  }));
}

/** A GOAWAY payload: last stream id, error code, debug data. */
export function goawayPayload(lastStreamId: number, errorCode: number, debug = ''): Uint8Array {
  return concat(u32(lastStreamId, errorCode), enc(debug));
}

/** How a header field is represented in a block (RFC 7541 §6). */
export type FieldRep =
  /** §6.1: a whole field from the table (static 1–61, dynamic from 62, newest first). */
  | { readonly index: number }
  /**
   * §6.2: a literal; `name` a string or the table index of the name. `indexing`: `incremental`
   * (§6.2.1, added to the table; the default), `without` (§6.2.2) or `never` (§6.2.3).
   */
  | { readonly name: string | number; readonly value: string; readonly indexing?: 'incremental' | 'without' | 'never'; readonly huffman?: boolean }
  /** §6.3: a dynamic table size update (only at the start of a block). */
  | { readonly sizeUpdate: number };

/** §5.1: an integer with an N-bit prefix, the bits above the prefix set to `flags`. */
export function hpackInt(value: number, prefixBits: number, flags: number): number[] {
  const out: number[] = [];
  integer(out, value, prefixBits, flags);
  return out;
}

function integer(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** Appendix B's code, padded with the EOS prefix (all ones), §5.2. */
function huffmanBytes(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const code = HUFFMAN_CODES[b] as number;
    for (let i = (HUFFMAN_LENGTHS[b] as number) - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return out;
}

/** §5.2: a string literal, raw or Huffman-coded. */
function stringLiteral(out: number[], s: string, huffman: boolean): void {
  const raw = enc(s);
  const body = huffman ? huffmanBytes(raw) : [...raw];
  integer(out, body.length, 7, huffman ? 0x80 : 0);
  for (const b of body) out.push(b);
}

/** Prefix bits and pattern of each literal kind (§6.2.1–§6.2.3). */
const LITERAL = { incremental: [6, 0x40], without: [4, 0x00], never: [4, 0x10] } as const;

/** A header block (the payload of HEADERS/CONTINUATION frames) holding `fields` as represented. */
export function headersBlock(fields: readonly FieldRep[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) {
    if ('index' in f) integer(out, f.index, 7, 0x80);
    else if ('sizeUpdate' in f) integer(out, f.sizeUpdate, 5, 0x20);
    else {
      const [bits, pattern] = LITERAL[f.indexing ?? 'incremental'];
      integer(out, typeof f.name === 'number' ? f.name : 0, bits, pattern);
      if (typeof f.name === 'string') stringLiteral(out, f.name, f.huffman ?? false);
      stringLiteral(out, f.value, f.huffman ?? false);
    }
  }
  return Uint8Array.from(out);
}

/** Static table indexes (RFC 7541 Appendix A) the tests use most, so blocks read by name. */
export const STATIC = {
  authority: 1, methodGet: 2, methodPost: 3, pathRoot: 4, schemeHttp: 6, status200: 8, status404: 13,
  contentType: 31, userAgent: 58,
} as const;

/** Whole frames the tests use most. */
export const settings = (...pairs: [number, number][]): Uint8Array => frame(SETTINGS, 0, 0, settingsPayload(...pairs));
export const settingsAck = (): Uint8Array => frame(SETTINGS, FLAG_ACK, 0);
export const rst = (stream: number, code: number): Uint8Array => frame(RST_STREAM, 0, stream, u32(code));
export const goaway = (last: number, code: number, debug = ''): Uint8Array => frame(GOAWAY, 0, 0, goawayPayload(last, code, debug));
export const data = (stream: number, payload: Uint8Array, end = false): Uint8Array => frame(DATA, end ? FLAG_END_STREAM : 0, stream, payload);

/** A HEADERS frame with END_HEADERS, or HEADERS + CONTINUATIONs when the block is cut in `parts`. */
export function headers(stream: number, block: Uint8Array, end = false, parts = 1): Uint8Array {
  const size = Math.ceil(block.length / parts);
  const out: Uint8Array[] = [];
  for (let i = 0; i < parts; i++) {
    const last = i === parts - 1;
    const flags = (last ? FLAG_END_HEADERS : 0) | (i === 0 && end ? FLAG_END_STREAM : 0);
    out.push(frame(i === 0 ? HEADERS : CONTINUATION, flags, stream, block.subarray(i * size, last ? block.length : (i + 1) * size)));
  }
  return concat(...out);
}

/** A gRPC message: compressed flag, 32-bit length, body. */
export function grpcMessage(body: Uint8Array, compressed = false): Uint8Array {
  return concat(Uint8Array.of(compressed ? 1 : 0), u32(body.length), body);
}

/** The first Appendix A entries (whole fields the encoder indexes), and content-type's name. */
const STATIC_FIELDS: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'],
];

/**
 * Encodes header lists with a dynamic table of its own (default 4096 octets): a field already
 * in a table is indexed, any other is a literal with incremental indexing (its name indexed when
 * a table has it), or without indexing when `literalOnly` names it.
 */
export class HpackEncoder {
  private table: [string, string][] = [];
  private size = 0;

  constructor(private readonly max = 4096, private readonly literalOnly: ReadonlySet<string> = new Set()) {}

  encode(fields: readonly (readonly [string, string])[]): Uint8Array {
    return headersBlock(fields.map(([name, value]) => this.rep(name, value)));
  }

  private rep(name: string, value: string): FieldRep {
    const full = this.index(name, value);
    if (full !== undefined) return { index: full };
    const named = this.index(name) ?? name;
    if (this.literalOnly.has(name)) return { name: named, value, indexing: 'without' };
    this.insert(name, value);
    return { name: named, value, indexing: 'incremental' };
  }

  /** Index of the field (or, with no value, of its name) in the static then dynamic table. */
  private index(name: string, value?: string): number | undefined {
    const matches = (e: readonly [string, string]): boolean => e[0] === name && (value === undefined || e[1] === value);
    const s = STATIC_FIELDS.findIndex(matches);
    if (s !== -1) return s + 1;
    if (value === undefined && name === 'content-type') return STATIC.contentType;
    const d = this.table.findIndex(matches);
    return d === -1 ? undefined : 62 + d;
  }

  private insert(name: string, value: string): void {
    this.table.unshift([name, value]);
    this.size += enc(name).length + enc(value).length + 32;
    while (this.size > this.max) {
      const [n, v] = this.table.pop()!;
      this.size -= enc(n).length + enc(v).length + 32;
    }
  }
}
