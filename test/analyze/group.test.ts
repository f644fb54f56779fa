/**
 * Folding of random keys and tokens in resources, so the endpoints table groups requests by
 * what they do: by rule on names people write and on random strings, and on the memcached sample
 * (memcslap's random keys), which must come down to one row per operation.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analyze/analyze.js';
import { isToken, resourceGroup } from '../../src/analyze/group.js';
import { openCapture } from '../../src/capture/index.js';

const SAMPLES = new URL('../../samples/', import.meta.url).pathname;

/** Deterministic base62 strings (mulberry32 from a fixed seed). */
function randomBase62(count: number, length: number): string[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let state = 7;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Array.from({ length }, () => alphabet[Math.floor(next() * 62)]).join(''));
}

describe('random tokens', () => {
  it('are folded inside keys and paths, next to the numbers, hex and UUIDs already folded', () => {
    const cases: [string, string, string][] = [
      ['memcached', '10BFhe39mtYBonSPPcCKtAes84HXD', '?'],
      ['memcached', 'session:fxAGCL6ebSOY07PftelN', 'session:?'],
      ['redis', 'cache:user:42:AbCdEfGhIjKlMnOp', 'cache:user:?:?'],
      ['http1', '/reset/Q2hhbmdlIG1lIHBsZWFzZQ/confirm', '/reset/?/confirm'],
      ['http1', '/orders/X7K2P9Q4M1ZZ', '/orders/?'],
      ['http1', '/v1/users/123/orders/9f86d081884c7d65', '/v1/users/?/orders/?'],
    ];
    for (const [protocol, resource, group] of cases) expect(resourceGroup(protocol, resource), resource).toBe(group);
  });

  it('leave names alone: words, camelCase, snake_case, acronyms, short ids', () => {
    const names = ['getUserProfileSettingsById', 'XMLHttpRequestHandler', 'HTTPServerConfig', 'pgbench_accounts',
      'user_profile_v2_cache', 'utf8mb4_general_ci', 'ISO8601Parser', 'key:__rand_int__', '/static/js/main.chunk.js',
      'web1.kcap.test', 'ProcessManagerFactory', 'session_store_2024', 'x86_64-linux-gnu'];
    for (const n of names) expect(resourceGroup('http1', n), n).toBe(n);
  });

  it('catch most random base62 strings, more the longer they are (about 95 % of 16 characters)', () => {
    for (const [length, least] of [[16, 0.93], [24, 0.96], [40, 0.98]] as const) {
      const folded = randomBase62(4000, length).filter(isToken).length;
      expect(folded / 4000, `length ${length}`).toBeGreaterThanOrEqual(least);
    }
  });

  it('bring the memcached sample from one row per key to one per operation', async () => {
    const reader = await openCapture(join(SAMPLES, 'memcached.kcap'));
    try {
      const r = await analyze(reader);
      expect(r.endpoints.map((e) => [e.operation, e.resource, e.count])).toEqual([['GET', '?', 200], ['SET', '?', 100], ['QUIT', '', 2]]);
    } finally {
      await reader.close();
    }
  });
});
