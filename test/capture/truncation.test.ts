/**
 * A capture cut short anywhere (recorder killed, disk full, partial copy) must give back every
 * chunk that is completely in the file, say what was lost, and never throw anything but a
 * CaptureError — and that only when the cut falls before the schema, without which nothing reads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureError, openCapture, verifyCapture } from '../../src/capture/index.js';
import { SyntheticLoad } from '../../src/capture/synthetic.js';
import { BLOCK, blockLayout, concat, machine, schema, splitRecords, tempDir, writeCapture, type BlockSpan } from './helpers.js';

const dir = tempDir();

interface Fixture {
  readonly bytes: Buffer;
  readonly blocks: BlockSpan[];
  /** Records of each chunk, in order. */
  readonly chunkRecords: Uint8Array[];
}

async function fixture(name: string, records: number, chunkSize: number): Promise<Fixture> {
  const path = join(dir, name);
  const load = new SyntheticLoad(schema, 42);
  writeCapture(path, [load.batch(records)], {
    chunkSize, tables: { threads: [{ pid: 1, tid: 1, ppid: 0, comm: 'init', exe: '/sbin/init', args: [], uid: 0, gid: 0,
      startNs: 0, pidNs: 1, netNs: 2, containerId: '' }], interfaces: [{ name: 'lo', index: 1, addrs: ['127.0.0.1/8'], netNs: 2 }] },
  });
  const r = await openCapture(path);
  const chunkRecords: Uint8Array[] = [];
  for await (const c of r.chunks()) chunkRecords.push(c.records);
  await r.close();
  const bytes = readFileSync(path);
  return { bytes, blocks: blockLayout(bytes), chunkRecords };
}

/**
 * Checks what a capture cut at `cut` bytes yields against what the whole file holds. `verify`
 * also runs the full verifier (the slower half, so the every-offset test samples it).
 */
async function checkCut(f: Fixture, cut: number, verify: boolean): Promise<void> {
  const path = join(dir, 'cut.kcap');
  writeFileSync(path, f.bytes.subarray(0, cut));
  const schemaEnd = f.blocks.find((b) => b.type === BLOCK.SCHEMA)!.end;
  const completeChunks = f.chunkRecords.slice(0, f.blocks.filter((b) => b.type === BLOCK.EVENTS && b.end <= cut).length);
  if (cut < schemaEnd) {
    await expect(openCapture(path)).rejects.toBeInstanceOf(CaptureError);
    if (verify) expect((await verifyCapture(path)).status).toBe('unreadable');
    return;
  }
  const r = await openCapture(path);
  try {
    const got: Uint8Array[] = [];
    let count = 0;
    for await (const c of r.chunks()) {
      got.push(c.records);
      count += c.count;
    }
    expect(got.length).toBe(completeChunks.length);
    expect(Buffer.from(concat(got)).equals(Buffer.from(concat(completeChunks)))).toBe(true);
    expect(count).toBe(completeChunks.reduce((n, rec) => n + splitRecords(rec).length, 0));
    expect(r.indexed).toBe(cut === f.bytes.length);
    expect(r.status).toBe(cut === f.bytes.length ? 'intact' : 'recoverable');
    expect(r.problems.length > 0).toBe(cut < f.bytes.length);
  } finally {
    await r.close();
  }
  if (verify) {
    const report = await verifyCapture(path);
    expect(report.status).toBe(cut === f.bytes.length ? 'intact' : 'recoverable');
    expect(report.chunks).toBe(completeChunks.length);
  }
}

describe('truncated captures', () => {
  it('recover every complete chunk when cut at every byte offset of a small file', async () => {
    const f = await fixture('small.kcap', 40, 600);
    expect(f.chunkRecords.length).toBeGreaterThan(3);
    for (let cut = 0; cut <= f.bytes.length; cut++) await checkCut(f, cut, cut % 17 === 0 || cut > f.bytes.length - 600);
  }, 300_000);

  it('recover every complete chunk when cut at random offsets of a large file', async () => {
    const f = await fixture('large.kcap', 60_000, 64 << 10);
    expect(f.bytes.length).toBeGreaterThan(1 << 20);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: f.bytes.length }), (cut) => checkCut(f, cut, true)), { numRuns: 40 });
  }, 300_000);

  it('names what was lost when the tail is torn', async () => {
    const f = await fixture('torn.kcap', 40, 600);
    const lastChunk = f.blocks.filter((b) => b.type === BLOCK.EVENTS).at(-1)!;
    const path = join(dir, 'torn-cut.kcap');
    writeFileSync(path, f.bytes.subarray(0, lastChunk.offset + 30));
    const r = await openCapture(path);
    expect(r.problems.map((p) => p.code)).toEqual(['truncated', 'truncated']);
    const torn = r.problems.find((p) => p.offset === lastChunk.offset)!;
    expect(torn.message).toMatch(/EVENTS block is torn/);
    expect(torn.lostBytes).toBe(30);
    expect(machine.hostname).toBe(r.machine.hostname);
    await r.close();
  });
});
