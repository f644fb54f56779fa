/**
 * The writer's promises: whole records only (a bad batch adds nothing), a private file, and
 * crash safety — a writer killed with SIGKILL at any instant, or stopped by a full disk, leaves
 * a file whose every complete chunk reads back, in order, as exactly what was appended.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureError, CaptureWriter, recordSummary, verifyCapture } from '../../src/capture/index.js';
import { SyntheticLoad } from '../../src/capture/synthetic.js';
import { encodeRecord } from '../../src/schema/encode.js';
import { BLOCK, blockLayout, clock, concat, machine, readAll, schema, splitRecords, tempDir, writeCapture } from './helpers.js';

const dir = tempDir();
const isRoot = process.getuid?.() === 0;
const requireRoot = process.env.KCAP_REQUIRE_BPF === '1';

/** The first `n` records of the synthetic stream with `seed`, concatenated. */
function streamPrefix(seed: number, n: number): Uint8Array {
  const load = new SyntheticLoad(schema, seed);
  return concat(Array.from({ length: n }, () => load.next()));
}

const cpuOf = (r: Uint8Array): number => new DataView(r.buffer, r.byteOffset).getUint16(6, true);

/** What the recorder's native drain computes for a batch, written out plainly as a reference. */
function summaryOf(batch: readonly Uint8Array[], cpus: number): Uint32Array {
  const s = recordSummary(cpus);
  const ts = batch.map((r) => new DataView(r.buffer, r.byteOffset).getBigUint64(8, true));
  const first = ts.reduce((a, b) => (b < a ? b : a));
  const last = ts.reduce((a, b) => (b > a ? b : a));
  s.set([batch.length, Number(first & 0xffffffffn), Number(first >> 32n), Number(last & 0xffffffffn), Number(last >> 32n)]);
  for (const r of batch) s[5 + cpuOf(r)]!++;
  return s;
}

describe('capture writer', () => {
  it('refuses bytes that are not whole records, adding none of them', async () => {
    const path = join(dir, 'partial.kcap');
    const a = encodeRecord(schema, 'close', { ts: 1n, pid: 1, tid: 1 });
    const b = encodeRecord(schema, 'write', { ts: 2n, pid: 1, tid: 1, vars: { data: 'xyz' } });
    const w = CaptureWriter.create(path, { machine, clock, snaplen: 1 });
    expect(() => w.append(concat([a, b.subarray(0, 30)]))).toThrow(CaptureError);
    const tooShort = Uint8Array.from(a);
    new DataView(tooShort.buffer).setUint32(0, 8, true);
    expect(() => w.append(tooShort)).toThrow(expect.objectContaining({ code: 'record' }));
    w.append(b);
    w.close();
    expect(() => w.append(a)).toThrow(expect.objectContaining({ code: 'closed' }));
    const got = await readAll(path);
    expect(Buffer.from(got.records).equals(Buffer.from(b))).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('keeps counts in STATS that match what was appended', async () => {
    const path = join(dir, 'stats.kcap');
    const w = writeCapture(path, [new SyntheticLoad(schema, 5, 1n, 2).batch(500)], { chunkSize: 4096 });
    const s = w.stats(true);
    expect(s.records).toBe(500);
    expect(s.perCpu.map((c) => c.cpu)).toEqual([0, 1]);
    expect(s.perCpu.reduce((n, c) => n + c.records, 0)).toBe(500);
    const report = await verifyCapture(path);
    expect(report).toMatchObject({ status: 'intact', records: 500, chunks: w.chunksWritten });
  });

  it('takes summarized batches (as the recorder\'s drain gives them, copied or in place) into exact chunk metadata', async () => {
    const path = join(dir, 'summarized.kcap');
    const records = splitRecords(new SyntheticLoad(schema, 9, 1n, 3).batch(3000));
    const w = CaptureWriter.create(path, { machine, clock, snaplen: 4096, chunkSize: 8192 });
    // Batches of whole records up to the chunk's room, each with the summary a drain would give;
    // every other one written in place, as the recorder drains into tail() (more than it needs).
    for (let i = 0, n = 0; i < records.length; n++) {
      const batch: Uint8Array[] = [records[i++]!];
      let size = batch[0]!.length;
      while (i < records.length && size + records[i]!.length <= w.chunkRoom()) {
        size += records[i]!.length;
        batch.push(records[i++]!);
      }
      if (n % 2 === 0) {
        w.appendSummarized(concat(batch), summaryOf(batch, 3));
      } else {
        w.tail(size + 70_000).set(concat(batch));
        w.commitSummarized(size, summaryOf(batch, 3));
      }
    }
    w.close();
    const report = await verifyCapture(path);
    expect(report).toMatchObject({ status: 'intact', records: 3000 });
    expect(report.chunks).toBeGreaterThan(10);
    const got = await readAll(path);
    expect(Buffer.from(got.records).equals(Buffer.from(concat(records)))).toBe(true);
    const cpus = w.stats(true).perCpu;
    for (const c of cpus) expect(c.records).toBe(records.filter((r) => cpuOf(r) === c.cpu).length);
  });

  it('leaves every complete chunk readable when killed with SIGKILL at any instant', async () => {
    for (let run = 0; run < 6; run++) {
      const path = join(dir, `killed-${run}.kcap`);
      const seed = 100 + run;
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/kill-writer.ts'), path, String(seed)],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
          child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        });
        await new Promise((r) => setTimeout(r, 20 + run * 37));
      } finally {
        child.kill('SIGKILL');
      }
      await new Promise((r) => child.on('exit', r));
      const bytes = readFileSync(path);
      const complete = blockLayout(bytes).filter((b) => b.type === BLOCK.EVENTS).length;
      const got = await readAll(path);
      expect(got.chunks).toBe(complete);
      expect(got.count).toBeGreaterThan(0);
      expect(Buffer.from(got.records).equals(Buffer.from(streamPrefix(seed, got.count)))).toBe(true);
      const report = await verifyCapture(path);
      expect(report.status).toBe('recoverable');
      expect(report.chunks).toBe(complete);
      expect(report.problems.some((p) => p.message.includes('no TRAILER'))).toBe(true);
    }
  }, 120_000);

  it('stops with a typed error on a full disk and keeps every chunk written before it', async (ctx) => {
    if (!isRoot) {
      if (requireRoot) throw new Error('KCAP_REQUIRE_BPF=1 but not root: cannot mount a small tmpfs');
      console.log('skipped: mounting a small tmpfs needs root');
      ctx.skip();
    }
    const mnt = join(dir, 'small-fs');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'kcap-test', mnt]);
    try {
      const path = join(mnt, 'full.kcap');
      const load = new SyntheticLoad(schema, 9);
      const w = CaptureWriter.create(path, { machine, clock, snaplen: 4096, chunkSize: 16 << 10, level: -5 });
      let appended = 0;
      let failure: unknown;
      try {
        for (;;) {
          w.append(load.batch(50));
          appended += 50;
        }
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(CaptureError);
      expect(failure).toMatchObject({ code: 'io', message: expect.stringMatching(/no space left on device/) });
      expect(() => w.append(load.next())).toThrow(expect.objectContaining({ code: 'closed' }));
      w.close();
      const got = await readAll(path);
      expect(got.chunks).toBe(w.chunksWritten);
      expect(got.count).toBeGreaterThan(0);
      expect(got.count).toBeLessThanOrEqual(appended + 50);
      expect(Buffer.from(got.records).equals(Buffer.from(streamPrefix(9, got.count)))).toBe(true);
      expect(statSync(path).size).toBe(w.bytesWritten);
      expect((await verifyCapture(path)).status).toBe('recoverable');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
