/** HPACK decoder: RFC 7541 Appendix C, integer and Huffman edge cases, limits, the joined-mid-way state, properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HPACK_LIMITS, HpackDecoder } from '../../src/protocols/http2/hpack.js';
import type { DecodeResult, Header } from '../../src/protocols/http2/hpack.js';
import { EOS, HUFFMAN_CODES, HUFFMAN_LENGTHS, decodeHuffman } from '../../src/protocols/http2/huffman.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function headersOf(r: DecodeResult): Header[] {
  if ('error' in r) throw new Error(r.error);
  return r.headers;
}
const pairs = (r: DecodeResult): [string | undefined, string | undefined][] => headersOf(r).map((h) => [h.name, h.value]);
const errorOf = (r: DecodeResult): string => ('error' in r ? r.error : 'no error');
const table = (d: HpackDecoder): [string | undefined, string, number][] => d.entries().map((e) => [e.name, e.value, e.size]);

/* A test-side encoder, written from RFC 7541 §5 and §6 independently of the decoder. */

function integer(out: number[], value: number, prefixBits: number, flags: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) { out.push(flags | value); return; }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 128) { out.push((rest % 128) | 0x80); rest = Math.floor(rest / 128); }
  out.push(rest);
}

function huffman(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const code = HUFFMAN_CODES[b]!;
    for (let i = HUFFMAN_LENGTHS[b]! - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) { out.push(acc); acc = 0; bits = 0; }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return out;
}

function literal(out: number[], s: string, useHuffman: boolean): void {
  const bytes = enc(s);
  const body = useHuffman ? huffman(bytes) : [...bytes];
  integer(out, body.length, 7, useHuffman ? 0x80 : 0);
  out.push(...body);
}

type Kind = 'without' | 'never' | 'incremental' | 'indexed';

/** Encodes fields as the kinds say, keeping its own model of the dynamic table for `indexed`. */
class TestEncoder {
  private entries: { name: string; value: string; size: number }[] = [];
  constructor(private readonly max = 4096) {}

  encode(fields: readonly { name: string; value: string; kind: Kind; huffman: boolean }[]): Uint8Array {
    const out: number[] = [];
    for (const f of fields) {
      const found = this.entries.findIndex((e) => e.name === f.name && e.value === f.value);
      if (f.kind === 'indexed' && found >= 0) { integer(out, 62 + found, 7, 0x80); continue; }
      const incremental = f.kind === 'incremental' || f.kind === 'indexed';
      integer(out, 0, incremental ? 6 : 4, incremental ? 0x40 : f.kind === 'never' ? 0x10 : 0);
      literal(out, f.name, f.huffman);
      literal(out, f.value, f.huffman);
      if (incremental) this.insert(f.name, f.value);
    }
    return Uint8Array.from(out);
  }

  private insert(name: string, value: string): void {
    const size = 32 + enc(name).length + enc(value).length;
    this.entries.unshift({ name, value, size });
    let total = this.entries.reduce((n, e) => n + e.size, 0);
    while (total > this.max) total -= this.entries.pop()!.size;
  }
}

describe('Huffman code (Appendix B)', () => {
  it('is the complete canonical code the appendix describes', () => {
    const order = [...Array(EOS + 1).keys()].sort((a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b);
    let next = 0;
    let len = HUFFMAN_LENGTHS[order[0]!]!;
    for (const sym of order) {
      next <<= HUFFMAN_LENGTHS[sym]! - len;
      len = HUFFMAN_LENGTHS[sym]!;
      expect([sym, HUFFMAN_CODES[sym]]).toEqual([sym, next]);
      next++;
    }
    // Every 30-bit pattern is covered: the code is complete, so only padding can be left over.
    expect(next).toBe(2 ** 30);
    expect(HUFFMAN_LENGTHS[EOS]).toBe(30);
  });

  const out = new Uint8Array(64);
  const decode = (bytes: number[]): number | string => decodeHuffman(Uint8Array.from(bytes), 0, bytes.length, out);

  it('accepts up to 7 bits of all-ones padding and refuses the rest', () => {
    expect(decode([0x1f])).toBe(1); // 'a' = 00011 + 111
    expect(out[0]).toBe(0x61);
    expect(decode([0x18])).toBe('bad padding'); // padding 000
    expect(decode([0x1f, 0xff])).toBe('bad padding'); // 11 bits of padding
    expect(decode([0xff])).toBe('bad padding'); // 8 bits of padding, no symbol
    expect(decode([0x00])).toBe('bad padding'); // '0' + 000
    expect(decode([])).toBe(0);
  });

  it('refuses EOS inside a string and output past the limit', () => {
    expect(decode([0xff, 0xff, 0xff, 0xff])).toBe('EOS in string');
    expect(decode([0x1f, 0xff, 0xff, 0xff, 0xff])).toBe('EOS in string');
    const long = huffman(enc('a'.repeat(65)));
    expect(decode(long)).toBe('too long');
  });
});

describe('HPACK decoder, RFC 7541 Appendix C', () => {
  it('C.1 integers: 10 and 1337 in a 5-bit prefix; 42 and 61 index the static table', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('2a')))).toEqual([]);
    expect(d.tableMax).toBe(10);
    expect(pairs(d.decode(hex('3f 9a 0a')))).toEqual([]);
    expect(d.tableMax).toBe(1337);
    expect(pairs(d.decode(hex('aa bd')))).toEqual([['if-range', ''], ['www-authenticate', '']]); // static 42 and 61, the last
    expect(errorOf(d.decode(hex('be')))).toBe('HPACK: index 62 beyond the dynamic table (0 entries) at byte 0');
  });

  it('C.2 literal forms and an indexed field', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))))
      .toEqual([['custom-key', 'custom-header']]);
    expect(table(d)).toEqual([['custom-key', 'custom-header', 55]]);
    expect(d.tableSize).toBe(55);

    const d2 = new HpackDecoder();
    expect(pairs(d2.decode(hex('040c 2f73 616d 706c 652f 7061 7468')))).toEqual([[':path', '/sample/path']]);
    expect(d2.tableSize).toBe(0);
    const never = headersOf(d2.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')));
    expect(never).toEqual([{ unknown: false, name: 'password', value: 'secret', neverIndexed: true }]);
    expect(d2.tableSize).toBe(0);
    expect(pairs(d2.decode(hex('82')))).toEqual([[':method', 'GET']]);
    expect(d2.entries()).toEqual([]);
  });

  const req1 = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
  const req2 = [...req1, ['cache-control', 'no-cache']];
  const req3 = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
  const reqTables = [
    [[':authority', 'www.example.com', 57]],
    [['cache-control', 'no-cache', 53], [':authority', 'www.example.com', 57]],
    [['custom-key', 'custom-value', 54], ['cache-control', 'no-cache', 53], [':authority', 'www.example.com', 57]],
  ];
  const requests = {
    'C.3 requests without Huffman': [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ],
    'C.4 requests with Huffman': [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ],
  };
  for (const [title, blocks] of Object.entries(requests)) {
    it(title, () => {
      const d = new HpackDecoder();
      [req1, req2, req3].forEach((want, i) => {
        expect(pairs(d.decode(hex(blocks[i]!)))).toEqual(want);
        expect(table(d)).toEqual(reqTables[i]);
      });
      expect(d.tableSize).toBe(164);
    });
  }

  const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
  const date3 = 'Mon, 21 Oct 2013 20:13:22 GMT';
  const loc = 'https://www.example.com';
  const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
  const resp1 = [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', loc]];
  const resp2 = [[':status', '307'], ...resp1.slice(1)];
  const resp3 = [[':status', '200'], ['cache-control', 'private'], ['date', date3], ['location', loc], ['content-encoding', 'gzip'], ['set-cookie', cookie]];
  const respTables = [
    [['location', loc, 63], ['date', date1, 65], ['cache-control', 'private', 52], [':status', '302', 42]],
    [[':status', '307', 42], ['location', loc, 63], ['date', date1, 65], ['cache-control', 'private', 52]],
    [['set-cookie', cookie, 98], ['content-encoding', 'gzip', 52], ['date', date3, 65]],
  ];
  const responses = {
    'C.5 responses without Huffman, evicting in a 256-octet table': [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768'
        + '7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153'
        + '444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ],
    'C.6 responses with Huffman, evicting in a 256-octet table': [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b'
        + '3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  };
  for (const [title, blocks] of Object.entries(responses)) {
    it(title, () => {
      const d = new HpackDecoder({ maxTableSize: 256 });
      const sizes: number[] = [];
      [resp1, resp2, resp3].forEach((want, i) => {
        expect(pairs(d.decode(hex(blocks[i]!)))).toEqual(want);
        expect(table(d)).toEqual(respTables[i]);
        sizes.push(d.tableSize);
      });
      expect(sizes).toEqual([222, 222, 215]);
    });
  }
});

describe('HPACK decoder rules and limits', () => {
  const block = (fields: Parameters<TestEncoder['encode']>[0], max?: number): Uint8Array => new TestEncoder(max).encode(fields);
  const field = (name: string, value: string, kind: Kind = 'incremental', huffman = false) => ({ name, value, kind, huffman });

  it('bounds integers at 2^31-1 and 5 continuation bytes', () => {
    const d = new HpackDecoder();
    expect(errorOf(d.decode(hex('ff 80 ff ff ff 07')))).toBe('HPACK: index 2147483647 beyond the dynamic table (0 entries) at byte 0');
    expect(errorOf(d.decode(hex('ff 81 ff ff ff 07')))).toBe('HPACK: index exceeds 2^31-1 or 5 continuation bytes at byte 0');
    expect(errorOf(d.decode(hex('ff 80 80 80 80 80 00')))).toBe('HPACK: index exceeds 2^31-1 or 5 continuation bytes at byte 0');
    expect(errorOf(d.decode(hex('82 ff 80')))).toBe('HPACK: block ends inside the index at byte 1');
  });

  it('evicts the oldest entries and drops an entry larger than the table', () => {
    const d = new HpackDecoder({ maxTableSize: 100 });
    expect(pairs(d.decode(block([field('a', 'x'.repeat(30)), field('b', 'y'.repeat(30))], 100)))).toEqual([['a', 'x'.repeat(30)], ['b', 'y'.repeat(30)]]);
    expect(table(d)).toEqual([['b', 'y'.repeat(30), 63]]);
    expect(pairs(d.decode(hex('be')))).toEqual([['b', 'y'.repeat(30)]]);
    expect(pairs(d.decode(block([field('c', 'z'.repeat(80))], 100)))).toEqual([['c', 'z'.repeat(80)]]);
    expect(d.entries()).toEqual([]);
    expect(d.tableSize).toBe(0);
  });

  it('takes size updates only at the block start and within SETTINGS_HEADER_TABLE_SIZE', () => {
    const d = new HpackDecoder();
    d.decode(block([field('a', '1'), field('b', '2')]));
    expect(d.tableSize).toBe(68);
    expect(pairs(d.decode(hex('3f 03 82')))).toEqual([[':method', 'GET']]); // update to 34: 'a' is evicted
    expect(table(d)).toEqual([['b', '2', 34]]);
    expect(errorOf(new HpackDecoder().decode(hex('3f e2 1f')))).toBe('HPACK: dynamic table size update to 4097 exceeds SETTINGS_HEADER_TABLE_SIZE 4096 at byte 0');
    expect(errorOf(new HpackDecoder().decode(hex('82 20')))).toBe('HPACK: dynamic table size update after a header field at byte 1');
    expect(pairs(new HpackDecoder({ maxTableSize: 8192 }).decode(hex('3f e2 1f 20')))).toEqual([]);
  });

  it('shrinks the table when a lower SETTINGS_HEADER_TABLE_SIZE takes effect', () => {
    const d = new HpackDecoder();
    d.decode(block([field('a', '1'), field('b', '2'), field('c', '3')]));
    d.setMaxTableSize(70);
    expect(table(d)).toEqual([['c', '3', 34], ['b', '2', 34]]);
    expect(pairs(d.decode(hex('bf')))).toEqual([['b', '2']]);
    expect(errorOf(d.decode(hex('3f 28')))).toBe('HPACK: dynamic table size update to 71 exceeds SETTINGS_HEADER_TABLE_SIZE 70 at byte 0');
  });

  it('refuses a string or header list over the limit without allocating it', () => {
    const d = new HpackDecoder();
    expect(errorOf(d.decode(hex('00 7f ff ff 3f')))).toBe(`HPACK: string of 1048702 bytes exceeds ${HPACK_LIMITS.string} in a name at byte 0`);
    expect(errorOf(d.decode(hex('00 05 61')))).toBe('HPACK: string of 5 bytes runs past the block end in a name at byte 0');
    const big = block([field('k', 'v'.repeat(4000))]);
    const over = Math.floor(HPACK_LIMITS.list / 4033) + 1; // the field that passes the limit
    const list = Uint8Array.from([...big, ...new Array<number>(over).fill(0xbe)]);
    expect(errorOf(new HpackDecoder().decode(list))).toBe(`HPACK: header list exceeds ${HPACK_LIMITS.list} bytes at byte ${big.length + over - 2}`);
    expect(errorOf(d.decode(new Uint8Array(HPACK_LIMITS.block + 1)))).toBe(`HPACK: header block of ${HPACK_LIMITS.block + 1} bytes exceeds ${HPACK_LIMITS.block}`);
  });

  it('forgets the dynamic table after an error: later references are unknown, not wrong', () => {
    const d = new HpackDecoder();
    d.decode(block([field('a', '1')]));
    expect(errorOf(d.decode(hex('00 01')))).toBe('HPACK: string of 1 bytes runs past the block end in a name at byte 0');
    expect(d.known).toBe(false);
    expect(headersOf(d.decode(hex('be')))).toEqual([{ unknown: true, name: undefined, value: undefined, neverIndexed: false }]);
  });
});

describe('HPACK decoder joined mid-way', () => {
  const unknown = { unknown: true, name: undefined, value: undefined, neverIndexed: false };

  it('marks references to entries it never saw and resolves the ones it saw inserted (C.3.2, C.3.3)', () => {
    const d = new HpackDecoder({ joinedMidway: true });
    expect(d.known).toBe(false);
    const second = headersOf(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865')));
    expect(second.map((h) => [h.name, h.value, h.unknown])).toEqual([
      [':method', 'GET', false], [':scheme', 'http', false], [':path', '/', false], [undefined, undefined, true], ['cache-control', 'no-cache', false]]);
    expect(table(d)).toEqual([['cache-control', 'no-cache', 53]]);
    const third = headersOf(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')));
    expect(third[3]).toEqual(unknown); // index 63: older than the join
    expect(third[4]).toEqual({ unknown: false, name: 'custom-key', value: 'custom-value', neverIndexed: false });
    expect(pairs(d.decode(hex('be bf')))).toEqual([['custom-key', 'custom-value'], ['cache-control', 'no-cache']]);
  });

  it('keeps a literal value whose name is unknown, and inserts it with the name unknown', () => {
    const d = new HpackDecoder({ joinedMidway: true });
    expect(headersOf(d.decode(hex('7e 03 616263')))).toEqual([{ unknown: true, name: undefined, value: 'abc', neverIndexed: false }]);
    expect(table(d)).toEqual([[undefined, 'abc', 35]]);
    expect(headersOf(d.decode(hex('be')))).toEqual([{ unknown: true, name: undefined, value: 'abc', neverIndexed: false }]);
    expect(headersOf(d.decode(hex('1f 2f 01 78')))).toEqual([{ unknown: true, name: undefined, value: 'x', neverIndexed: true }]); // never indexed, name from entry 62
  });

  it('still refuses an index no table within SETTINGS_HEADER_TABLE_SIZE could hold', () => {
    const d = new HpackDecoder({ joinedMidway: true });
    expect(headersOf(d.decode(hex('ff 3e')))).toEqual([unknown]); // index 189: the 128th entry, 128 * 32 = 4096
    expect(errorOf(d.decode(hex('ff 3f')))).toBe('HPACK: index 190 beyond the dynamic table (0 entries) at byte 0');
  });

  it('knows the whole table again after a size update to 0', () => {
    const d = new HpackDecoder({ joinedMidway: true });
    expect(pairs(d.decode(hex('20 3f e1 1f 82')))).toEqual([[':method', 'GET']]);
    expect(d.known).toBe(true);
    expect(d.tableMax).toBe(4096);
    expect(errorOf(d.decode(hex('be')))).toBe('HPACK: index 62 beyond the dynamic table (0 entries) at byte 0');
  });
});

describe('HPACK decoder properties', () => {
  it('never throws on random bytes and stays within its bounds', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), fc.boolean(), (blocks, midway) => {
      const d = new HpackDecoder({ maxTableSize: 512, joinedMidway: midway });
      for (const b of blocks) {
        const r = d.decode(b);
        if ('error' in r) expect(r.error).toMatch(/^HPACK: [^\n]+$/);
        else expect(r.headers.length).toBeLessThanOrEqual(b.length);
        expect(d.tableSize).toBeLessThanOrEqual(d.tableMax);
        expect(d.entries().reduce((n, e) => n + e.size, 0)).toBe(d.tableSize);
      }
    }), { numRuns: 500 });
  });

  it('round-trips random header lists in every representation, with and without Huffman', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const fieldArb = fc.record({
      name: fc.oneof(text, fc.constantFrom('a', 'b', ':path', 'content-type')),
      value: fc.oneof(text, fc.constantFrom('', 'x', 'application/grpc')),
      kind: fc.constantFrom<Kind>('without', 'never', 'incremental', 'indexed'),
      huffman: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(fc.array(fieldArb, { maxLength: 12 }), { maxLength: 6 }), fc.constantFrom(256, 4096), (lists, max) => {
      const e = new TestEncoder(max);
      const d = new HpackDecoder({ maxTableSize: max });
      for (const list of lists) {
        const r = headersOf(d.decode(e.encode(list)));
        expect(r.map((h) => [h.name, h.value, h.neverIndexed])).toEqual(list.map((f) => [f.name, f.value, f.kind === 'never']));
      }
    }), { numRuns: 300 });
  });
});
