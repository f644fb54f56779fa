/** The registry: detection across protocols, declared fields, and the shared engine's limits. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMON_FIELDS, commonFieldValues, detectProtocol, PROTOCOLS, protocolByName, recordFields } from '../../src/protocols/index.js';
import { StreamBuffer } from '../../src/protocols/stream-buffer.js';
import { enc } from './support.js';

describe('protocol registry', () => {
  it('names each protocol once and prefixes its fields with a unique namespace', () => {
    const names = PROTOCOLS.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    const all = recordFields().map((f) => f.name);
    expect(new Set(all).size).toBe(all.length);
    const prefixes = PROTOCOLS.map((p) => new Set(p.fields.map((f) => f.name.split('.')[0])));
    for (const set of prefixes) expect(set.size).toBe(1);
    expect(new Set(prefixes.map((s) => [...s][0])).size).toBe(PROTOCOLS.length);
    expect(all.slice(0, COMMON_FIELDS.length)).toEqual(COMMON_FIELDS.map((f) => f.name));
    expect(protocolByName('redis')?.name).toBe('redis');
  });

  it('gives every record its common fields by their declared names', () => {
    const p = protocolByName('http1')!.open();
    p.data('req', enc('GET /x HTTP/1.1\r\n\r\n'), 5n);
    const [r] = p.end();
    expect(Object.keys(commonFieldValues(r!))).toEqual(COMMON_FIELDS.map((f) => f.name));
    expect(commonFieldValues(r!)['l7.resource']).toBe('/x');
    expect(commonFieldValues(r!)['l7.reply']).toBe('missing');
  });

  it('detects each protocol from typical first bytes, port or not', () => {
    const cases: [string, Uint8Array, 'req' | 'resp', 'stream' | 'datagram'][] = [
      ['http1', enc('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n'), 'req', 'stream'],
      ['redis', enc('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'), 'req', 'stream'],
      ['memcached', enc('get foo\r\n'), 'req', 'stream'],
      ['postgres', Uint8Array.of(0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f), 'req', 'stream'],
      ['mysql', Uint8Array.of(0x4a, 0, 0, 0, 0x0a, ...enc('10.11.6-MariaDB\0'), ...new Array(60).fill(1)), 'resp', 'stream'],
      ['dns', Uint8Array.of(0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1), 'req', 'datagram'],
    ];
    for (const [name, bytes, dir, transport] of cases) {
      expect(detectProtocol(bytes, dir, transport)?.protocol.name, name).toBe(name);
    }
    expect(detectProtocol(enc('SSH-2.0-OpenSSH_9.2\r\n'), 'req', 'stream')).toBeUndefined();
  });

  it('never throws when detecting random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('req', 'resp') as fc.Arbitrary<'req' | 'resp'>,
      fc.constantFrom('stream', 'datagram') as fc.Arbitrary<'stream' | 'datagram'>, fc.option(fc.nat(65535), { nil: undefined }),
      (b, dir, transport, port) => {
        const d = detectProtocol(b, dir, transport, port);
        expect(d === undefined || (d.confidence >= 0.5 && d.confidence <= 1)).toBe(true);
      }), { numRuns: 2000 });
  });

  it('bounds what one direction buffers while waiting for a frame', () => {
    const p = protocolByName('http1')!.open({ maxBuffer: 4096 });
    // A request head that never ends.
    p.data('req', enc(`GET / HTTP/1.1\r\nX: ${'a'.repeat(10_000)}`), 1n);
    expect(p.stats.invalid).toBeGreaterThan(0);
    expect(p.end()).toEqual([]);
  });
});

describe('stream buffer', () => {
  it('remembers which append delivered each byte across consumes and growth', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(4000)), (sizes, consumes) => {
      const b = new StreamBuffer();
      const owner: bigint[] = [];
      sizes.forEach((n, i) => {
        b.append(new Uint8Array(n).fill(i & 0xff), BigInt(i));
        for (let k = 0; k < n; k++) owner.push(BigInt(i));
      });
      let head = 0;
      for (const c of consumes) {
        const k = Math.min(c, b.length);
        b.consume(k);
        head += k;
        if (b.length > 0) {
          expect(b.tsAt(0)).toBe(owner[head]);
          expect(b.tsAt(b.length - 1)).toBe(owner[owner.length - 1]);
          expect(b.view()[0]).toBe(Number(owner[head]) & 0xff);
        }
      }
      expect(b.length).toBe(owner.length - head);
    }));
  });

  it('borrows bytes appended while empty and copies what is left of them on keep', () => {
    const b = new StreamBuffer();
    const src = Uint8Array.of(1, 2, 3, 4, 5);
    b.append(src, 7n);
    expect(b.view()).toBe(src);
    b.consume(2);
    b.keep();
    src.fill(0);
    expect([...b.view()]).toEqual([3, 4, 5]);
    b.append(Uint8Array.of(6), 8n);
    expect([...b.view()]).toEqual([3, 4, 5, 6]);
    expect([b.tsAt(0), b.tsAt(3)]).toEqual([7n, 8n]);
  });
});
