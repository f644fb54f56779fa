/**
 * Builds HTTP/2 bytes for tests: frames as RFC 9113 §4.1 lays them out, and header blocks from
 * a small HPACK encoder (RFC 7541) that indexes what it sent before, as real encoders do, so a
 * connection joined mid-way refers to dynamic entries the parser never saw.
 */
import { CLIENT_PREFACE, CONTINUATION, DATA, FLAG_END_HEADERS, FLAG_END_STREAM, GOAWAY, HEADERS, RST_STREAM, SETTINGS } from '../../src/protocols/http2/types.js';
import { concat, enc } from './support.js';

export const PREFACE = enc(CLIENT_PREFACE);

/** One frame: length(24) type(8) flags(8) R+stream(32), then the payload. */
export function frame(type: number, flags: number, stream: number, payload: Uint8Array = new Uint8Array(0), length = payload.length): Uint8Array {
  const h = new Uint8Array(9 + payload.length);
  h[0] = length >>> 16; h[1] = (length >>> 8) & 0xff; h[2] = length & 0xff;
  h[3] = type; h[4] = flags;
  new DataView(h.buffer).setUint32(5, stream >>> 0);
  h.set(payload, 9);
  return h;
}

export const u32 = (...vs: number[]): Uint8Array => {
  const b = new Uint8Array(4 * vs.length);
  vs.forEach((v, i) => new DataView(b.buffer).setUint32(4 * i, v >>> 0));
  return b;
};

export function settingsPayload(...pairs: [number, number][]): Uint8Array {
  return concat(...pairs.map(([id, v]) => {
    const b = new Uint8Array(6);
    new DataView(b.buffer).setUint16(0, id);
    new DataView(b.buffer).setUint32(2, v);
    return b;
  }));
}

export const settings = (...pairs: [number, number][]): Uint8Array => frame(SETTINGS, 0, 0, settingsPayload(...pairs));

export const settingsAck = (): Uint8Array => frame(SETTINGS, 0x1, 0);
export const rst = (stream: number, code: number): Uint8Array => frame(RST_STREAM, 0, stream, u32(code));
export const goaway = (last: number, code: number): Uint8Array => frame(GOAWAY, 0, 0, u32(last, code));
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

/** Some RFC 7541 Appendix A entries: enough for the encoder to use the static table too. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'],
];
const CONTENT_TYPE_INDEX = 31;

/** RFC 7541 §5.1 integer with an N-bit prefix, `high` the bits above it. */
export function hpackInt(value: number, prefix: number, high: number): number[] {
  const max = (1 << prefix) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function hpackString(s: string): number[] {
  const b = enc(s);
  return [...hpackInt(b.length, 7, 0), ...b];
}

/**
 * Encodes header lists with a dynamic table of its own (default 4096 octets): a field already
 * in a table is indexed, any other is a literal with incremental indexing (its name indexed when
 * a table has it), unless `literalOnly` names it.
 */
export class HpackEncoder {
  private table: [string, string][] = [];
  private size = 0;

  constructor(private readonly max = 4096, private readonly literalOnly: ReadonlySet<string> = new Set()) {}

  encode(fields: readonly (readonly [string, string])[]): Uint8Array {
    return Uint8Array.from(fields.flatMap(([n, v]) => this.field(n, v)));
  }

  private field(name: string, value: string): number[] {
    const full = this.index(name, value);
    if (full !== undefined) return hpackInt(full, 7, 0x80);
    const nameIndex = this.index(name);
    if (this.literalOnly.has(name)) return [...hpackInt(nameIndex ?? 0, 4, 0x00), ...(nameIndex === undefined ? hpackString(name) : []), ...hpackString(value)];
    this.insert(name, value);
    return [...hpackInt(nameIndex ?? 0, 6, 0x40), ...(nameIndex === undefined ? hpackString(name) : []), ...hpackString(value)];
  }

  /** Index of the field (or, with no value, of its name) in the static then dynamic table. */
  private index(name: string, value?: string): number | undefined {
    const matches = (e: readonly [string, string]): boolean => e[0] === name && (value === undefined || e[1] === value);
    const s = STATIC.findIndex(matches);
    if (s !== -1) return s + 1;
    if (value === undefined && name === 'content-type') return CONTENT_TYPE_INDEX;
    const d = this.table.findIndex(matches);
    return d === -1 ? undefined : 62 + d;
  }

  private insert(name: string, value: string): void {
    this.table.unshift([name, value]);
    this.size += name.length + value.length + 32;
    while (this.size > this.max) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}
