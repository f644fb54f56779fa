/**
 * Payload capture limits: a read larger than snaplen keeps exactly its first snaplen bytes while
 * the result field keeps the full size, up to the 64 KiB maximum.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProbes, SNAP_MAX } from '../../src/record/bpf/index.js';
import { decodeAll, describeBpf, drainAll, spawnTraced } from '../helpers/bpf.js';

describeBpf('BPF probes: snaplen', () => {
  let dir: string;
  let exe: string;
  let file: string;
  let content: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kcap-snap-'));
    exe = join(dir, 'kcapsnap');
    copyFileSync('/usr/bin/cat', exe);
    file = join(dir, 'data');
    // 100 000 bytes: more than the maximum snaplen; cat reads it in one 128 KiB read.
    content = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    writeFileSync(file, content);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const snaplen of [100, 4096, SNAP_MAX]) {
    it(`keeps the first ${snaplen} bytes of a ${100_000}-byte read`, async () => {
      const probes = openProbes({ comm: 'kcapsnap', snaplen });
      const chunks: Buffer[] = [];
      try {
        const t = spawnTraced(`${exe} ${file} > /dev/null`, probes);
        expect(await t.exited).toBe(0);
        await drainAll(probes, chunks);
      } finally {
        probes.close();
      }
      const read = decodeAll(chunks).find((r) => r.name === 'read' && Number(r.fields.res) === content.length);
      expect(read, 'the read of the whole file').toBeDefined();
      const data = Buffer.from(read!.vars.data as Uint8Array);
      expect(data.length).toBe(snaplen);
      expect(data.equals(content.subarray(0, snaplen))).toBe(true);
    });
  }
});
