/**
 * `kcap info` and `kcap verify` as a user runs them: the real CLI in a child process, its
 * output, its --json, its exit status, and its one-line errors.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureWriter } from '../../src/capture/index.js';
import { encodeRecord } from '../../src/schema/encode.js';
import { BLOCK, blockLayout, clock, concat, machine, schema, tempDir } from './helpers.js';

const dir = tempDir();
const main = join(import.meta.dirname, '../../src/cli/main.ts');

function kcap(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'Pacific/Chatham', LANG: 'de_DE.UTF-8' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('kcap info and verify', () => {
  const path = join(dir, 'cli.kcap');
  const records = [
    encodeRecord(schema, 'connect', { ts: 2_000_000_000n, pid: 5, tid: 5 }),
    encodeRecord(schema, 'write', { ts: 2_500_000_000n, pid: 5, tid: 5, vars: { data: 'GET / HTTP/1.1\r\n\r\n' } }),
    encodeRecord(schema, 'write', { ts: 3_000_000_001n, pid: 5, tid: 5, vars: { data: 'GET /x HTTP/1.1\r\n\r\n' } }),
  ];
  const w = CaptureWriter.create(path, {
    machine, clock, snaplen: 4096, command: ['kcap', 'record', '-w', 'cli.kcap'],
    tables: { threads: [{ pid: 5, tid: 5, ppid: 1, comm: 'curl', exe: '/usr/bin/curl', args: ['curl'], uid: 0, gid: 0, startNs: 1, pidNs: 1, netNs: 1, containerId: '' }] },
  });
  w.append(concat(records));
  w.noteLost(7);
  w.close();

  it('info prints the time range in UTC, events by type, tables and losses, deterministically', () => {
    const a = kcap('info', path);
    expect(a.code).toBe(0);
    expect(a.out).toContain('time      2026-11-18T11:06:41.000000000Z .. 2026-11-18T11:06:42.000000001Z (1.00s)');
    expect(a.out).toMatch(/lost {6}7 events dropped/);
    expect(a.out).toContain('writer    kcap 0.1.0 (kcap record -w cli.kcap)');
    expect(a.out).toMatch(/records {3}3 in 1 chunks/);
    expect(a.out).toMatch(/^ {2}connect +1$/m);
    expect(a.out).toMatch(/^ {2}write +2$/m);
    expect(a.out).toMatch(/tables {4}threads 1, fds 0/);
    expect(kcap('info', path).out).toBe(a.out);
    const j = JSON.parse(kcap('info', '--json', path).out) as Record<string, unknown>;
    expect(j).toMatchObject({ records: 3, chunks: 1, lost: 7, events: [{ name: 'write', type: 2, count: 2 }, { name: 'connect', type: 22, count: 1 }],
      time: { firstUtc: '2026-11-18T11:06:41.000000000Z', durationNs: '1000000001' } });
  });

  it('verify exits 0 intact, 2 recoverable, 3 unreadable, with --json for scripts', () => {
    expect(kcap('verify', path)).toMatchObject({ code: 0, out: expect.stringMatching(/intact: 1 chunks, 3 records good/) });
    const bytes = readFileSync(path);
    const chunk = blockLayout(bytes).find((b) => b.type === BLOCK.EVENTS)!;
    const flipped = Buffer.from(bytes);
    flipped[chunk.offset + 30]! ^= 0x40;
    const bad = join(dir, 'flipped.kcap');
    writeFileSync(bad, flipped);
    const v = kcap('verify', bad);
    expect(v.code).toBe(2);
    expect(v.out).toMatch(new RegExp(`block 3, offset ${chunk.offset}: EVENTS block payload checksum mismatch`));
    const j = JSON.parse(kcap('verify', '--json', bad).out) as { status: string; problems: Array<{ block: number; offset: number }> };
    expect(j.status).toBe('recoverable');
    expect(j.problems[0]).toMatchObject({ block: 3, offset: chunk.offset });
    const junk = join(dir, 'junk.kcap');
    writeFileSync(junk, 'hello world, not a capture');
    expect(kcap('verify', junk)).toMatchObject({ code: 3, out: expect.stringMatching(/unreadable\n.*not a kcap capture/) });
  });

  it('fails with one line naming the file on bad input', () => {
    const missing = kcap('info', join(dir, 'nope.kcap'));
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`kcap: ${join(dir, 'nope.kcap')}: cannot open: no such file or directory\n`);
    const junk = join(dir, 'junk2.kcap');
    writeFileSync(junk, 'KCAP\r\n\x1a\nshort');
    expect(kcap('info', junk).err).toBe(`kcap: ${junk}: file header truncated (offset 0)\n`);
    expect(kcap('info', '--help')).toMatchObject({ code: 0, out: expect.stringContaining('--json') });
    expect(kcap('verify', '--help').out).toContain('Exit status: 0 intact, 2 recoverable');
  });
});
