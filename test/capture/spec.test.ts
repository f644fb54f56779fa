/**
 * formats/kcap.md is enough to write a second reader: test/capture/second-reader.py, written
 * from the document alone in another language (Debian's Python with its zstd and msgpack
 * packages), reads a capture written by kcap and must agree with kcap's reader on everything.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureWriter, openCapture } from '../../src/capture/index.js';
import { SyntheticLoad } from '../../src/capture/synthetic.js';
import { clock, machine, schema, tempDir } from './helpers.js';

const dir = tempDir();
const root = join(import.meta.dirname, '../..');

/** Installs the Python packages; returns why not when that is impossible here. */
function ensurePython(): string | undefined {
  const r = spawnSync('bash', [join(root, 'scripts/ensure-packages.sh'), 'python3', 'python3-zstandard', 'python3-msgpack'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `python3-zstandard/python3-msgpack missing: ${r.stderr.trim().split('\n').at(-1)}`;
}

describe('the format specification', () => {
  it('lets an independent reader written from it read what kcap writes', async (ctx) => {
    const why = ensurePython();
    if (why) {
      if (process.env.KCAP_REQUIRE_BPF === '1') throw new Error(why);
      console.log(`skipped: ${why}`);
      ctx.skip();
    }
    const path = join(dir, 'spec.kcap');
    const load = new SyntheticLoad(schema, 11);
    const w = CaptureWriter.create(path, {
      machine, clock, snaplen: 256, chunkSize: 32 << 10, command: ['kcap', 'record'],
      tables: { users: [{ uid: 0, name: 'root', home: '/root', shell: '/bin/sh' }], interfaces: [{ name: 'lo', index: 1, addrs: [], netNs: 1 }] },
    });
    for (let i = 0; i < 40; i++) {
      w.append(load.batch(100));
      if (i % 10 === 3) w.noteLost(i);
      if (i % 15 === 14) w.writeStats();
    }
    w.close();
    const py = JSON.parse(execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'second-reader.py'), path], { encoding: 'utf8' })) as Record<string, unknown>;

    const r = await openCapture(path);
    const sha = createHash('sha256');
    const chunks = [];
    for await (const c of r.chunks()) {
      sha.update(c.records);
      chunks.push({ seq: c.seq, count: c.count, firstTs: c.firstTs.toString(), lastTs: c.lastTs.toString(), lostBefore: c.lostBefore });
    }
    await r.close();
    expect(chunks.length).toBeGreaterThan(3);
    expect(py).toEqual({
      version: [r.format.major, r.format.minor],
      header: { writer: r.header.writer, hostname: machine.hostname, bootNs: clock.bootNs.toString(), realtimeNs: clock.realtimeNs.toString(),
        snaplen: 256, chunkSize: 32 << 10 },
      schemaVersion: r.schema.version,
      tables: { users: 1, interfaces: 1 },
      stats: { records: 4000, lost: r.stats!.lost, final: true },
      chunks,
      recordsSha256: sha.digest('hex'),
    });
    expect(r.stats!.lost).toBe(3 + 13 + 23 + 33);
  }, 120_000);
});
