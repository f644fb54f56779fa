/**
 * The shipped sample captures (samples/*.kcap, recorded by samples/record-samples.sh against real
 * servers) analyze cleanly and give the headline counts samples/EXPECTED.json took from the
 * clients' own output. Needs no root: analysis runs anywhere.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeJson, countByOperation, countByStatus, kcap } from '../helpers/servers-extra.js';

const SAMPLES = new URL('../../samples/', import.meta.url).pathname;

interface Expected {
  readonly protocol: string;
  readonly operations?: Readonly<Record<string, number>>;
  readonly statuses?: Readonly<Record<string, number>>;
}

const EXPECTED = JSON.parse(readFileSync(join(SAMPLES, 'EXPECTED.json'), 'utf8')) as Record<string, Expected>;

describe('shipped sample captures', () => {
  it('has an expectation for every sample and a sample for every expectation', () => {
    const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.kcap')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    expect(files).toEqual(['dns.kcap', 'http.kcap', 'memcached.kcap', 'mysql.kcap', 'postgres.kcap', 'redis.kcap']);
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    it(`${file}: verifies, and analyze reports what the client said (${want.protocol})`, async () => {
      const path = join(SAMPLES, file);
      expect(statSync(path).size).toBeLessThan(1 << 20);
      const verify = await kcap(['verify', path]);
      expect(verify.code, verify.stderr + verify.stdout).toBe(0);
      const r = await analyzeJson(path);
      expect(r.protocols.map((p) => p.protocol)).toEqual([want.protocol]);
      if (want.operations) {
        const ops = countByOperation(r, want.protocol);
        for (const [op, n] of Object.entries(want.operations)) expect(ops[op], `${file} ${op}`).toBe(n);
      }
      if (want.statuses) expect(countByStatus(r, want.protocol)).toEqual(want.statuses);
      expect(r.incomplete).toMatchObject({ lostEvents: 0, malformedRecords: 0, requestsWithoutResponse: 0, responsesWithoutRequest: 0, invalidFrames: 0 });
      // The script traces the servers too: each connection's two ends are joined.
      const conns = r.connections.byProtocol[0]!.count;
      expect(conns).toBeGreaterThan(0);
      expect(r.connections.bothEndsJoined).toBe(conns);
    expect(r.connections.total).toBe(conns);
    });
  }
});
