/**
 * Property: any sequence of records and tables written and read back is identical, whatever the
 * chunk size and however the records were batched into append() calls; chunk metas describe
 * their records exactly; time-range reads return exactly the records in range, in file order.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openCapture, type RawChunk, type Tables } from '../../src/capture/index.js';
import { encodeRecord } from '../../src/schema/encode.js';
import { concat, readAll, schema, splitRecords, tempDir, writeCapture } from './helpers.js';

const dir = tempDir();
let fileNo = 0;

const recordArb = fc.record({
  event: fc.constantFrom(...schema.events),
  ts: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
  cpu: fc.integer({ min: 0, max: 255 }),
  pid: fc.nat(),
  tid: fc.nat(),
  payload: fc.uint8Array({ maxLength: 300 }),
}).map(({ event, payload, ...h }) =>
  encodeRecord(schema, event.name, { ...h, vars: Object.fromEntries(event.vars.map((v, i) => [v.name, payload.subarray(i)])) }));

const num = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'grapheme', maxLength: 40 });

const tablesArb: fc.Arbitrary<Tables> = fc.record({
  threads: fc.array(fc.record({
    pid: num, tid: num, ppid: num, comm: text, exe: text, args: fc.array(text, { maxLength: 4 }), uid: num, gid: num,
    startNs: num, pidNs: num, netNs: num, containerId: text, cwd: text,
  }, { requiredKeys: ['pid', 'tid', 'ppid', 'comm', 'exe', 'args', 'uid', 'gid', 'startNs', 'pidNs', 'netNs', 'containerId'] }), { maxLength: 20 }),
  fds: fc.array(fc.record({
    pid: num, fd: num, kind: fc.constantFrom('file' as const, 'ipv4' as const, 'unix' as const), name: text, ino: num,
    l4proto: text, laddr: text, lport: fc.integer({ min: 0, max: 65535 }), state: text,
  }, { requiredKeys: ['pid', 'fd', 'kind', 'name', 'ino'] }), { maxLength: 20 }),
  containers: fc.array(fc.record({ id: text, runtime: text, name: text, image: text, cgroup: text }), { maxLength: 5 }),
  users: fc.array(fc.record({ uid: num, name: text, home: text, shell: text }), { maxLength: 5 }),
  groups: fc.array(fc.record({ gid: num, name: text }), { maxLength: 5 }),
  interfaces: fc.array(fc.record({ name: text, index: num, addrs: fc.array(text, { maxLength: 3 }), netNs: num }), { maxLength: 5 }),
});

/** Cuts `records` into batches at the given (sorted, deduplicated) record indices. */
function batches(records: Uint8Array[], cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (records.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, records.length]) {
    out.push(concat(records.slice(prev, c)));
    prev = c;
  }
  return out;
}

function tsOf(rec: Uint8Array): bigint {
  return new DataView(rec.buffer, rec.byteOffset, rec.byteLength).getBigUint64(8, true);
}

function checkChunk(c: RawChunk, seq: number, chunkSize: number, last: boolean): void {
  const recs = splitRecords(c.records);
  expect(c.seq).toBe(seq);
  expect(c.count).toBe(recs.length);
  const ts = recs.map(tsOf);
  expect(c.firstTs).toBe(ts.reduce((a, b) => (b < a ? b : a)));
  expect(c.lastTs).toBe(ts.reduce((a, b) => (b > a ? b : a)));
  // Chunks are cut at the first record that reaches chunkSize; records are never split.
  if (!last) expect(c.records.length).toBeGreaterThanOrEqual(chunkSize);
  expect(c.records.length - recs[recs.length - 1]!.length).toBeLessThan(chunkSize);
}

describe('capture round trip', () => {
  it('returns every record and table byte for byte, across chunk boundaries and batchings', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(recordArb, { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 1, max: 8192 }), tablesArb,
      async (records, cuts, chunkSize, tables) => {
        const path = join(dir, `rt-${fileNo++}.kcap`);
        writeCapture(path, batches(records, cuts), { chunkSize, tables });
        const back = await readAll(path);
        expect(Buffer.from(back.records).equals(Buffer.from(concat(records)))).toBe(true);
        expect(back.count).toBe(records.length);
        expect(back.tables).toEqual(tables);
        const r = await openCapture(path);
        try {
          expect(r.indexed).toBe(true);
          expect(r.problems).toEqual([]);
          let seq = 0;
          for await (const c of r.chunks()) checkChunk(c, seq, chunkSize, ++seq === r.index.length);
          expect(seq).toBe(r.index.length);
        } finally {
          await r.close();
        }
      }), { numRuns: 60 });
  });

  it('reads exactly the records of a time range, in file order', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(recordArb, { minLength: 1, maxLength: 150 }), fc.integer({ min: 24, max: 2048 }), fc.nat(), fc.nat(),
      async (records, chunkSize, a, b) => {
        const path = join(dir, `range-${fileNo++}.kcap`);
        writeCapture(path, [concat(records)], { chunkSize });
        const ts = records.map(tsOf).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        const [fromNs, toNs] = [ts[a % ts.length]!, ts[b % ts.length]!].sort((x, y) => (x < y ? -1 : 1)) as [bigint, bigint];
        const r = await openCapture(path);
        try {
          const got: Uint8Array[] = [];
          for await (const c of r.chunks({ fromNs, toNs })) got.push(c.records);
          const want = records.filter((rec) => tsOf(rec) >= fromNs && tsOf(rec) <= toNs);
          expect(Buffer.from(concat(got)).equals(Buffer.from(concat(want)))).toBe(true);
        } finally {
          await r.close();
        }
      }), { numRuns: 60 });
  });
});
