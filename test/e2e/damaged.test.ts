/**
 * A capture is untrusted input that arrives attached to bug reports: `kcap analyze` and `kcap print`
 * of a damaged capture use everything readable, say on stderr in one line per damage what was lost
 * and where, and exit 2; an unreadable file is one line and exit 1. Never a stack trace.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcap } from '../helpers/cli.js';

const SAMPLE = new URL('../../samples/host.kcap', import.meta.url).pathname;

describe('damaged captures', () => {
  let dir: string;
  let requestsIntact = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcap-damaged-'));
    const r = await kcap(['analyze', '--json', SAMPLE]);
    requestsIntact = JSON.parse(r.stdout).requests;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('analyze uses the other chunks when one is corrupted, names the damage and exits 2', async () => {
    const file = join(dir, 'flipped.kcap');
    copyFileSync(SAMPLE, file);
    const bytes = readFileSync(file);
    // The event chunks make up most of the file after its tables: the middle byte is in one.
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);
    const r = await kcap(['analyze', '--json', file]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(new RegExp(`^kcap: ${file}: damaged capture: .*offset \\d+`));
    const report = JSON.parse(r.stdout);
    expect(report.requests).toBeGreaterThan(0);
    expect(report.requests).toBeLessThan(requestsIntact);
    expect(report.incomplete.problems.some((p: string) => p.includes('checksum'))).toBe(true);
    const printed = await kcap(['print', '-q', file]);
    expect(printed.code).toBe(2);
    expect(printed.stdout.length).toBeGreaterThan(0);
  });

  it('analyze of a truncated capture reports what the complete chunks hold, and exits 2', async () => {
    const file = join(dir, 'truncated.kcap');
    const bytes = readFileSync(SAMPLE);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
    const r = await kcap(['analyze', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/damaged capture: .*trailer/);
    expect(r.stdout).toContain('INCOMPLETE DATA');
  });

  it('refuses a file that is not a capture, or is missing, in one line with exit 1', async () => {
    const garbage = join(dir, 'garbage.kcap');
    writeFileSync(garbage, Buffer.alloc(4096, 0x41));
    for (const file of [garbage, join(dir, 'missing.kcap')]) {
      for (const cmd of ['analyze', 'print', 'info']) {
        const r = await kcap([cmd, file]);
        expect(r.code, `${cmd} ${file}`).toBe(1);
        expect(r.stderr.trim().split('\n'), `${cmd} ${file}`).toHaveLength(1);
        expect(r.stderr).toMatch(new RegExp(`^kcap: ${file}: `));
        expect(r.stdout).toBe('');
      }
    }
  });
});
