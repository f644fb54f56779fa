/** Byte helpers shared by the parsers: RecentText must give exactly what decoding would. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { latin1, RecentText, utf8 } from '../../src/protocols/bytes.js';

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
