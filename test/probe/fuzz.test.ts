/**
 * A capture is untrusted input: random bytes, and valid sessions with bytes flipped, must replay,
 * filter and print without throwing, with every problem counted. Also hostile values in
 * well-formed records (negative and huge fd numbers, pid reuse) must not crash or grow the tables.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RawChunk } from '../../src/capture/source.js';
import { FIELDS } from '../../src/filter/index.js';
import { formatJson, formatLine } from '../../src/report/event.js';
import { Replayer } from '../../src/probe/replay.js';
import { CaptureBuilder, CLOCK, MACHINE } from '../helpers/source.js';
import { buildScenario, io } from './scenario.js';

const { builder } = buildScenario();

async function scenarioBytes(): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of builder.source(1000).chunks()) parts.push(c.records);
  return parts[0]!;
}

/** Replays one chunk, touching every field and both renderings of every event; returns the stats. */
function replayAll(records: Uint8Array) {
  const r = new Replayer({ schema: builder.schema, machine: MACHINE, clock: CLOCK, snaplen: 256, tables: builder.tables });
  const chunk: RawChunk = { seq: 0, records, count: 0, firstTs: 0n, lastTs: 0n, lostBefore: 0 };
  r.chunk(chunk, (ev) => {
    for (const f of FIELDS) f.get(ev);
    formatLine(ev, { payload: 'hex' });
    JSON.parse(formatJson(ev, { payload: 'short' }));
  });
  return r.stats;
}

describe('replay of damaged bytes', () => {
  it('never throws on random bytes, and accounts for every record it framed', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      const s = replayAll(bytes);
      expect(s.events + s.dropped + s.malformed).toBeGreaterThanOrEqual(s.records);
    }), { numRuns: 300 });
  });

  it('never throws on a real session with bytes overwritten', async () => {
    const clean = await scenarioBytes();
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(clean.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), async (edits) => {
      const bytes = clean.slice();
      for (const [at, v] of edits) bytes[at] = v;
      const s = replayAll(bytes);
      expect(s.events + s.dropped + s.malformed).toBeGreaterThanOrEqual(s.records);
      expect(s.records).toBeLessThanOrEqual(clean.length / 24);
    }), { numRuns: 300 });
  });
});

describe('hostile values in well-formed records', () => {
  it('gives negative and huge fd numbers context without tracking them', async () => {
    const b = new CaptureBuilder();
    b.add('read', { pid: 5, tid: 5, fields: io(-1, 3), vars: { data: new Uint8Array(3) } });
    b.add('read', { pid: 5, tid: 5, fields: io(0x7fffffff, 3), vars: { data: new Uint8Array(3) } });
    b.add('openat', { pid: 5, tid: 5, fields: { res: 0x7ffffffe, dirfd: -100 }, vars: { path: '/x' } });
    b.add('dup2', { pid: 5, tid: 5, fields: { res: 0x7ffffffd, oldfd: -5 } });
    const r = new Replayer(b.source());
    const seen: string[] = [];
    for await (const c of b.source().chunks()) r.chunk(c, (ev) => seen.push(`${ev.fdNum}:${ev.fd?.origin}`));
    expect(seen).toEqual(['-1:inferred', '2147483647:inferred', '2147483646:event', '2147483645:inferred']);
    expect(r.state.procs.get(5)!.fds.entries()).toEqual([]);
  });

  it('keeps a reused pid apart from the exited process that had it', async () => {
    const b = new CaptureBuilder();
    b.thread(10, 10, 'old');
    b.thread(10, 11, 'old');
    b.add('exit', { pid: 10, tid: 11, fields: { group_dead: 0 } });
    b.add('exit', { pid: 10, tid: 10, fields: { group_dead: 1 } });
    b.add('fork', { pid: 1, tid: 1, fields: { child_pid: 10, child_tid: 10 }, vars: { child_comm: 'new' } });
    b.add('exec', { pid: 10, tid: 10, fields: { old_tid: 11 }, vars: { filename: '/bin/new', comm: 'new', args: 'new\0' } });
    b.add('close', { pid: 10, tid: 10, fields: { fd: 3, res: 0 } });
    const r = new Replayer(b.source());
    const comms: string[] = [];
    for await (const c of b.source().chunks()) r.chunk(c, (ev) => comms.push(`${ev.name}:${ev.thread.comm}`));
    expect(comms).toEqual(['exit:old', 'exit:old', 'fork:', 'exec:new', 'close:new']);
    expect([...r.state.threads.keys()].sort((x, y) => x - y)).toEqual([1, 10]);
  });
});
