/**
 * The shipped sample captures (samples/*.kcap, recorded by samples/record-samples.sh against real
 * servers) analyze cleanly and give the headline counts samples/EXPECTED.json took from the
 * clients' own output. Needs no root: analysis runs anywhere.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeJson, countByOperation, countByStatus, kcap } from '../helpers/cli.js';

const SAMPLES = new URL('../../samples/', import.meta.url).pathname;

/** Per protocol in the capture: the counts its clients printed. */
interface Expected {
  readonly operations?: Readonly<Record<string, number>>;
  readonly statuses?: Readonly<Record<string, number>>;
}

const EXPECTED = JSON.parse(readFileSync(join(SAMPLES, 'EXPECTED.json'), 'utf8')) as Record<string, Record<string, Expected>>;

describe('shipped sample captures', () => {
  it('has an expectation for every sample and a sample for every expectation', () => {
    const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.kcap')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    expect(files).toEqual(['dns.kcap', 'grpc.kcap', 'host.kcap', 'http.kcap', 'http2.kcap', 'memcached.kcap', 'mysql.kcap', 'postgres.kcap', 'redis.kcap']);
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    const protocols = Object.keys(want).sort();
    it(`${file}: verifies, and analyze reports what the clients said (${protocols.join(', ')})`, async () => {
      const path = join(SAMPLES, file);
      expect(statSync(path).size).toBeLessThan(1 << 20);
      const verify = await kcap(['verify', path]);
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
      const r = await analyzeJson(path);
      expect(r.protocols.map((p) => p.protocol)).toEqual(protocols);
      for (const [protocol, counts] of Object.entries(want)) {
        if (counts.operations) {
          const ops = countByOperation(r, protocol);
          for (const [op, n] of Object.entries(counts.operations)) expect(ops[op], `${file} ${protocol} ${op}`).toBe(n);
        }
        if (counts.statuses) expect(countByStatus(r, protocol), `${file} ${protocol}`).toEqual(counts.statuses);
      }
      expect(r.incomplete).toMatchObject({ lostEvents: 0, malformedRecords: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
      // The script traces the servers too: each connection's two ends are joined.
      const conns = r.connections.byProtocol.reduce((n, p) => n + p.count, 0);
      expect(conns).toBeGreaterThan(0);
      expect(r.connections.bothEndsJoined).toBe(conns);
      expect(r.connections.total).toBe(conns);
    });
  }
});
