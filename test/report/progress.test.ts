/**
 * The progress line: on a terminal (a fake TTY stream with a fake clock) it shows bytes read of
 * the total, rate and time left, redraws at most every 250 ms, fits the terminal's width and is
 * cleared at the end, also when reading fails; on anything else nothing is written. The real
 * CLI writes nothing extra to a pipe, and draws the line on a pseudo-terminal (util-linux
 * `script`) without changing what it prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureWriter, openCapture } from '../../src/capture/index.js';
import type { RawChunk } from '../../src/capture/source.js';
import { withProgress, type PositionedSource } from '../../src/report/progress.js';
import { CLOCK, MACHINE, SCHEMA } from '../helpers/source.js';

const CLEAR = '\r\x1b[K';

/** A terminal that keeps what is written to it. */
function fakeTty(columns?: number): { isTTY: boolean; columns?: number; written: string[]; write(t: string): boolean } {
  return { isTTY: true, ...(columns ? { columns } : {}), written: [], write(t: string) { this.written.push(t); return true; } };
}

/** `count` chunks of 1000 bytes of a 10000-byte file, each read 100 ms after the previous. */
function slowSource(count: number, clock: { t: number }, failAt = -1): PositionedSource {
  const src = {
    schema: SCHEMA, machine: MACHINE, clock: CLOCK, snaplen: 256, tables: { threads: [], fds: [], containers: [], users: [], groups: [], interfaces: [] },
    position: 0, size: 10_000,
    async *chunks(): AsyncIterable<RawChunk> {
      for (let seq = 0; seq < count; seq++) {
        clock.t += 100;
        if (seq === failAt) throw new Error('chunk unreadable');
        src.position = (seq + 1) * 1000;
        yield { seq, records: new Uint8Array(0), count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 };
      }
    },
  };
  return src;
}

async function drain(chunks: AsyncIterable<RawChunk>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const c of chunks) seqs.push(c.seq);
  return seqs;
}

describe('progress line', () => {
  it('shows bytes, rate and time left at most every 250 ms, then clears itself', async () => {
    const clock = { t: 0 };
    const tty = fakeTty();
    const seqs = await drain(withProgress(slowSource(10, clock), tty, () => clock.t).chunks());
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Drawn at 300, 600 and 900 ms (chunks 3, 6, 9), then cleared.
    expect(tty.written).toEqual([
      `${CLEAR}kcap: read 2.9KiB of 9.8KiB (30%), 9.8KiB/s, 700ms left`,
      `${CLEAR}kcap: read 5.9KiB of 9.8KiB (60%), 9.8KiB/s, 400ms left`,
      `${CLEAR}kcap: read 8.8KiB of 9.8KiB (90%), 9.8KiB/s, 100ms left`,
      CLEAR,
    ]);
  });

  it('fits the terminal, writes nothing for a fast read, and is cleared when reading fails', async () => {
    const clock = { t: 0 };
    const narrow = fakeTty(20);
    await drain(withProgress(slowSource(4, clock), narrow, () => clock.t).chunks());
    expect(narrow.written[0]).toBe(`${CLEAR}kcap: read 2.9KiB o`);
    const fast = fakeTty();
    await drain(withProgress(slowSource(2, clock), fast, () => clock.t).chunks());
    expect(fast.written).toEqual([]);
    const failing = fakeTty();
    await expect(drain(withProgress(slowSource(10, clock, 5), failing, () => clock.t).chunks())).rejects.toThrow('chunk unreadable');
    expect(failing.written.at(-1)).toBe(CLEAR);
    expect(failing.written).toHaveLength(2);
  });

  it('is not there at all when the stream is not a terminal', async () => {
    const clock = { t: 0 };
    const src = slowSource(10, clock);
    const pipe = { isTTY: false, written: [] as string[], write(t: string) { this.written.push(t); return true; } };
    expect(withProgress(src, pipe, () => clock.t)).toBe(src);
    expect(pipe.written).toEqual([]);
  });
});

describe('the CLI', () => {
  const main = join(import.meta.dirname, '../../src/cli/main.ts');
  let dir = '';
  let file = '';

  // A capture whose reading takes long enough to draw: the host sample's chunks, eight times over.
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kcap-progress-'));
    file = join(dir, 'long.kcap');
    const sample = await openCapture(new URL('../../samples/host.kcap', import.meta.url).pathname);
    const w = CaptureWriter.create(file, { machine: sample.machine, clock: sample.clock, snaplen: sample.snaplen, tables: sample.tables, chunkSize: 64 << 10 });
    for (let i = 0; i < 8; i++) for await (const c of sample.chunks()) w.append(c.records);
    w.close();
    await sample.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes nothing to stderr when it is a pipe (print -q, analyze, requests)', () => {
    const print = spawnSync(process.execPath, ['--import', 'tsx', main, 'print', '-q', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect([print.status, print.stderr]).toEqual([0, '']);
    const analyze = spawnSync(process.execPath, ['--import', 'tsx', main, 'analyze', file], { encoding: 'utf8' });
    expect([analyze.status, analyze.stderr]).toEqual([0, '']);
    const requests = spawnSync(process.execPath, ['--import', 'tsx', main, 'requests', file], { encoding: 'utf8' });
    expect([requests.status, requests.stderr]).toEqual([0, '']);
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)('draws on a terminal, clears the line, prints the same events, and never with --json', () => {
    const out = join(dir, 'print.txt');
    const kcap = `'${process.execPath}' --import tsx '${main}'`;
    const requestsOut = join(dir, 'requests.txt');
    const command = `${kcap} print -q '${file}' > '${out}'; echo JSON; ${kcap} analyze --json '${file}' > /dev/null;`
      + ` echo REQUESTS; ${kcap} requests '${file}' > '${requestsOut}'`;
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    expect(tty.status, tty.stdout).toBe(0);
    const [print, rest] = tty.stdout.split('JSON');
    const [json, requests] = rest!.split('REQUESTS');
    // requests may finish before its first redraw; a line it drew is cleared, and its lines are untouched.
    expect(requests!.trim() === '' || requests!.endsWith(CLEAR)).toBe(true);
    const pipedRequests = spawnSync(process.execPath, ['--import', 'tsx', main, 'requests', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect(readFileSync(requestsOut, 'utf8')).toBe(pipedRequests.stdout);
    expect(print).toMatch(/\r\x1b\[Kkcap: read [\d.]+[KM]iB of [\d.]+[KM]iB \(\d+%\), [\d.]+[KM]?i?B\/s/);
    expect(print!.endsWith(CLEAR)).toBe(true);
    expect(json!.trim()).toBe('');
    const piped = spawnSync(process.execPath, ['--import', 'tsx', main, 'print', '-q', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
    expect(readFileSync(out, 'utf8')).toBe(piped.stdout);
  });
});
