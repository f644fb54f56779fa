/**
 * Compatibility promises of the format: a capture written with an older event schema decodes by
 * its own embedded schema; blocks and table kinds from a newer minor version are skipped; rows
 * keep fields this reader does not know and get defaults for ones an older writer did not write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { openCapture, verifyCapture } from '../../src/capture/index.js';
import { RecordDecoder, isDecodeFailure } from '../../src/schema/decode.js';
import { encodeRecord } from '../../src/schema/encode.js';
import { EVENT_SCHEMA } from '../../src/schema/events.generated.js';
import { resolveSchema, type SchemaSpec } from '../../src/schema/schema.js';
import { BLOCK, blockLayout, concat, readAll, schema, splitRecords, tempDir, writeCapture } from './helpers.js';

const dir = tempDir();

/**
 * Today's schema as an older kcap might have had it: `connect` before the socket tuple fields were
 * added. (Schema versions start at 1, today's is 1, so the variant keeps the number.)
 */
function olderSchema(): SchemaSpec {
  const spec = structuredClone(EVENT_SCHEMA) as unknown as { version: number; events: Array<{ name: string; fields: unknown[] }>; fieldsets: Record<string, unknown[]> };
  spec.fieldsets.io_v0 = [
    { name: 'res', type: 'i64', desc: 'result' },
    { name: 'latency', type: 'u64', desc: 'ns' },
    { name: 'fd', type: 'i32', desc: 'fd' },
    { name: 'flags', type: 'u32', desc: 'flags' },
  ];
  spec.events.find((e) => e.name === 'connect')!.fields = [{ use: 'io_v0' }];
  return spec as unknown as SchemaSpec;
}

function frame(type: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(0x4b4c424b, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(crc32c(h.subarray(0, 12)), 12);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(crc32c(Buffer.from(payload)), 0);
  return Buffer.concat([h, payload, t]);
}

describe('format compatibility', () => {
  it('decodes a capture written with an older event schema by the schema it embeds', async () => {
    const old = resolveSchema(olderSchema());
    const oldConnect = old.byName.get('connect')!;
    const nowConnect = schema.byName.get('connect')!;
    expect(oldConnect.minSize).toBeLessThan(nowConnect.minSize);
    const records = [
      encodeRecord(old, 'connect', { ts: 5n, pid: 10, tid: 11, fields: { res: -111, latency: 900, fd: 7 }, vars: { addr: Uint8Array.of(2, 0, 0x1f, 0x90, 127, 0, 0, 1) } }),
      encodeRecord(old, 'write', { ts: 6n, pid: 10, tid: 11, fields: { res: 5, fd: 7, lport: 41000 }, vars: { data: 'hello' } }),
    ];
    const path = join(dir, 'old-schema.kcap');
    writeCapture(path, [concat(records)], { schema: olderSchema() });
    const r = await openCapture(path);
    expect(r.schema.byName.get('connect')!.minSize).toBe(oldConnect.minSize);
    const decoder = new RecordDecoder(r.schema);
    const decoded = [];
    for await (const c of r.chunks()) for (const rec of splitRecords(c.records)) decoded.push(decoder.decode(rec));
    await r.close();
    const [connect, write] = decoded;
    if (!connect || isDecodeFailure(connect) || !write || isDecodeFailure(write)) throw new Error('decode failed');
    expect(connect.name).toBe('connect');
    expect(connect.fields).toEqual({ res: -111, latency: 900, fd: 7, flags: 0 });
    expect([...(connect.vars.addr as Uint8Array)]).toEqual([2, 0, 0x1f, 0x90, 127, 0, 0, 1]);
    expect(write.fields.lport).toBe(41000);
    expect(Buffer.from(write.vars.data as Uint8Array).toString()).toBe('hello');
    // Today's layout would misread the old record: the embedded schema is what makes it decode.
    const misread = new RecordDecoder(schema).decode(records[0]!);
    expect(isDecodeFailure(misread)).toBe(true);
  });

  it('skips unknown block types and table kinds, keeps unknown row fields, defaults missing ones', async () => {
    const path = join(dir, 'newer.kcap');
    writeCapture(path, [new Uint8Array(0)], { chunkSize: 64 });
    const bytes = readFileSync(path);
    const firstAfterPreamble = blockLayout(bytes).find((b) => b.type !== BLOCK.HEADER && b.type !== BLOCK.SCHEMA && b.type !== BLOCK.TABLE)!;
    const extra = Buffer.concat([
      frame(42, Buffer.from('a block type from kcap 1.9')),
      frame(BLOCK.TABLE, encode({ kind: 'mounts', rows: [{ path: '/' }, { path: '/proc' }] })),
      frame(BLOCK.TABLE, encode({ kind: 'threads', rows: [{ pid: 7, tid: 7, comm: 'sh', cgroupV3: 'x' }, { comm: 'no pid' }] })),
    ]);
    const rec = encodeRecord(schema, 'close', { ts: 9n, pid: 7, tid: 7 });
    const chunkFile = join(dir, 'one.kcap');
    writeCapture(chunkFile, [rec]);
    const one = readFileSync(chunkFile);
    const chunk = blockLayout(one).find((b) => b.type === BLOCK.EVENTS)!;
    const path2 = join(dir, 'newer2.kcap');
    writeFileSync(path2, Buffer.concat([bytes.subarray(0, firstAfterPreamble.offset), extra, one.subarray(chunk.offset, chunk.end)]));
    const r = await openCapture(path2);
    expect(r.otherTables.get('mounts')).toBe(2);
    expect(r.tables.threads).toEqual([{ pid: 7, tid: 7, comm: 'sh', cgroupV3: 'x', ppid: 0, exe: '', args: [], uid: 0, gid: 0,
      startNs: 0, pidNs: 0, netNs: 0, containerId: '' }]);
    expect(r.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/TABLE threads: dropped 1 of 2 rows \(first: row has no pid\)/));
    await r.close();
    const got = await readAll(path2);
    expect(Buffer.from(got.records).equals(Buffer.from(rec))).toBe(true);
    const report = await verifyCapture(path2);
    expect(report.blocks['type 42']).toBe(1);
    expect(report.chunks).toBe(1);
  });
});
