/** Byte helpers shared by the parsers: each must give exactly what its plain definition says. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indexOfCrlf, latin1, RecentText, utf8 } from '../../src/protocols/bytes.js';

describe('RecentText', () => {
  it('gives the decoded text of any range, whether or not the bytes repeat', () => {
    const recent = new RecentText(utf8);
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }), fc.nat(3), (arrays, repeat) => {
      for (const a of arrays) {
        for (let i = 0; i <= repeat; i++) {
          const padded = new Uint8Array(a.length + 4);
          padded.set(a, 2);
          expect(recent.get(padded, 2, 2 + a.length)).toBe(Buffer.from(a).toString('utf8'));
        }
      }
    }));
  });

  it('reuses the previous string while the bytes are the same', () => {
    const recent = new RecentText(latin1);
    const a = recent.get(Uint8Array.of(0x47, 0x45, 0x54), 0, 3);
    expect(recent.get(Uint8Array.of(0x20, 0x47, 0x45, 0x54), 1, 4)).toBe(a);
    expect(recent.get(Uint8Array.of(0x50, 0x55, 0x54), 0, 3)).toBe('PUT');
    expect(recent.get(Uint8Array.of(0xe9), 0, 1)).toBe('\u00e9');
  });
});

describe('indexOfCrlf', () => {
  it('finds the first CRLF whose LF lies after `from` and before `limit`, near or far', () => {
    const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x41), { maxLength: 300 }).map((a) => Uint8Array.from(a));
    fc.assert(fc.property(bytes, fc.nat(300), fc.nat(320), (buf, from, limit) => {
      let want = -1;
      for (let j = from + 1; j < Math.min(limit, buf.length); j++) {
        if (buf[j] === 0x0a && buf[j - 1] === 0x0d) { want = j - 1; break; }
      }
      expect(indexOfCrlf(buf, from, limit)).toBe(want);
    }), { numRuns: 2000 });
  });
});
