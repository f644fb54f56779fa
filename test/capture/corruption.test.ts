/**
 * Damaged captures: every flipped byte is caught by a checksum and reported with the block
 * number and offset of the block it hit; the other chunks still read; no length or count in a
 * file makes the reader allocate beyond its limits; and no input makes it throw anything but a
 * CaptureError.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CaptureError, openCapture, verifyCapture } from '../../src/capture/index.js';
import { SyntheticLoad } from '../../src/capture/synthetic.js';
import { BLOCK, blockLayout, concat, readAll, schema, tempDir, writeCapture, type BlockSpan } from './helpers.js';

const dir = tempDir();
let bytes: Buffer;
let blocks: BlockSpan[];
let chunkRecords: Uint8Array[];

beforeAll(async () => {
  const path = join(dir, 'good.kcap');
  writeCapture(path, [new SyntheticLoad(schema, 3).batch(3000)], {
    chunkSize: 16 << 10,
    tables: { users: [{ uid: 0, name: 'root', home: '/root', shell: '/bin/sh' }], groups: [{ gid: 0, name: 'root' }] },
  });
  bytes = readFileSync(path);
  blocks = blockLayout(bytes);
  const r = await openCapture(path);
  chunkRecords = [];
  for await (const c of r.chunks()) chunkRecords.push(c.records);
  await r.close();
});

let n = 0;
function writeVariant(b: Uint8Array): string {
  const path = join(dir, `bad-${n++}.kcap`);
  writeFileSync(path, b);
  return path;
}

/** Runs every reader entry point on `path`; anything thrown must be a CaptureError. */
async function exerciseAll(path: string): Promise<void> {
  const report = await verifyCapture(path);
  expect(['intact', 'recoverable', 'unreadable']).toContain(report.status);
  for (const onDamage of ['skip', 'throw'] as const) {
    try {
      const r = await openCapture(path, { onDamage });
      try {
        for await (const c of r.chunks()) expect(c.records.length).toBeGreaterThanOrEqual(0);
        for await (const c of r.chunks({ fromNs: 1_000_000_000n, toNs: 1_050_000_000n })) expect(c.count).toBeGreaterThanOrEqual(0);
      } finally {
        await r.close();
      }
    } catch (err) {
      expect(err).toBeInstanceOf(CaptureError);
    }
  }
}

describe('corrupted captures', () => {
  it('detect every flipped byte and name the block and offset it hit', async () => {
    expect(blocks.filter((b) => b.type === BLOCK.EVENTS).length).toBeGreaterThan(5);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, mask) => {
      const bad = Buffer.from(bytes);
      bad[pos]! ^= mask;
      const path = writeVariant(bad);
      const report = await verifyCapture(path);
      expect(report.status).not.toBe('intact');
      if (pos < 16) {
        expect(report.status).toBe('unreadable');
        return;
      }
      const ordinal = blocks.findIndex((b) => b.offset <= pos && pos < b.end);
      const hit = blocks[ordinal]!;
      expect(report.problems.some((p) => p.block === ordinal && p.offset === hit.offset)).toBe(true);
      if (hit.type === BLOCK.HEADER || hit.type === BLOCK.SCHEMA) {
        expect(report.status).toBe('unreadable');
        await expect(openCapture(path)).rejects.toBeInstanceOf(CaptureError);
        return;
      }
      expect(report.status).toBe('recoverable');
      // Every chunk but the one hit reads back intact.
      const lostChunk = hit.type === BLOCK.EVENTS ? blocks.filter((b) => b.type === BLOCK.EVENTS).indexOf(hit) : -1;
      const want = chunkRecords.filter((_, i) => i !== lostChunk);
      const got = await readAll(path);
      expect(Buffer.from(got.records).equals(Buffer.from(concat(want)))).toBe(true);
      if (lostChunk >= 0) {
        const r = await openCapture(path, { onDamage: 'throw' });
        const drain = async () => { for await (const c of r.chunks()) expect(c.count).toBeGreaterThan(0); };
        await expect(drain()).rejects.toMatchObject({ name: 'CaptureError', offset: hit.offset });
        await r.close();
      }
    }), { numRuns: 150 });
  }, 300_000);

  it('never throws anything but a CaptureError on mangled input', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      async (edits, cutAt) => {
        const bad = Buffer.from(bytes);
        for (const e of edits) bad[e.pos % bad.length] = e.value;
        await exerciseAll(writeVariant(cutAt === undefined ? bad : bad.subarray(0, cutAt % bad.length)));
      }), { numRuns: 100 });
  }, 300_000);

  it('refuses lengths beyond its limits with typed errors instead of allocating', async () => {
    const header = bytes.subarray(0, 16);
    const blockWith = (type: number, length: number, payload: Uint8Array) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(0x4b4c424b, 0);
      h.writeUInt16LE(type, 4);
      h.writeUInt32LE(length, 8);
      h.writeUInt32LE(crc32c(h.subarray(0, 12)), 12);
      const tail = Buffer.alloc(4);
      tail.writeUInt32LE(crc32c(Buffer.from(payload)), 0);
      return Buffer.concat([h, payload, tail]);
    };
    // A block header claiming 4 GiB, with a valid header checksum.
    const huge = writeVariant(Buffer.concat([header, blockWith(BLOCK.HEADER, 0xffff_fff0, new Uint8Array(0))]));
    await expect(openCapture(huge)).rejects.toMatchObject({ code: 'limit', block: 0, offset: 16 });
    // A chunk whose meta declares 4 GiB of raw records.
    const preamble = bytes.subarray(0, blocks.find((b) => b.type === BLOCK.EVENTS)!.offset);
    const meta = Buffer.alloc(40);
    meta.writeUInt32LE(0, 0);
    meta.writeUInt32LE(1, 4);
    meta.writeUInt32LE(0xffff_ffff, 8);
    meta.writeUInt16LE(1, 12);
    const bigChunk = writeVariant(Buffer.concat([preamble, blockWith(BLOCK.EVENTS, 40, meta)]));
    const r = await openCapture(bigChunk);
    expect(r.problems).toContainEqual(expect.objectContaining({ code: 'limit', offset: preamble.length }));
    expect(r.index).toEqual([]);
    await r.close();
    expect((await verifyCapture(bigChunk)).problems).toContainEqual(expect.objectContaining({ code: 'limit', offset: preamble.length }));
    // A table whose msgpack array claims 2^32-1 rows.
    const table = Buffer.concat([Buffer.from(encode({ kind: 'threads', rows: [] })).subarray(0, -1), Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])]);
    const bigTable = writeVariant(Buffer.concat([preamble, blockWith(BLOCK.TABLE, table.length, table)]));
    const t = await openCapture(bigTable);
    expect(t.problems.some((p) => p.code === 'corrupt' && p.message.includes('msgpack'))).toBe(true);
    await t.close();
  });

  it('refuses a newer major version with a clear message', async () => {
    const v2 = Buffer.from(bytes);
    v2.writeUInt16LE(2, 8);
    v2.writeUInt32LE(crc32c(v2.subarray(0, 12)), 12);
    const path = writeVariant(v2);
    await expect(openCapture(path)).rejects.toMatchObject({ code: 'version', message: expect.stringMatching(/version 2\.0 is not supported.*upgrade kcap/) });
    expect((await verifyCapture(path)).status).toBe('unreadable');
  });
});
