/**
 * Probe conversion and state tables on a generated session: every record's context (thread,
 * process, fd with role and generation) is checked against what the scenario set up, and the
 * drop policy and malformed-input handling are checked by record number.
 */
import { describe, expect, it } from 'vitest';
import type { KEvent } from '../../src/probe/event.js';
import { replay } from '../../src/probe/replay.js';
import { CaptureBuilder } from '../helpers/source.js';
import { REQUEST, RESPONSE, buildScenario } from './scenario.js';

interface Seen {
  num: number; name: string; pid: number; tid: number; comm: string; exe: string; fd: number; gen: number;
  fdName: string; fdType: string; origin: string; role: string; sip?: string; sport?: number; cip?: string;
  cport?: number; payload: string; container?: string; user?: string; partial: boolean;
}

function see(ev: KEvent): Seen {
  return {
    num: ev.num, name: ev.name, pid: ev.pid, tid: ev.tid, comm: ev.thread.comm, exe: ev.thread.proc.exe,
    fd: ev.fdNum, gen: ev.fd?.gen ?? -1, fdName: ev.fd?.name ?? '', fdType: ev.fd?.kind ?? '', origin: ev.fd?.origin ?? '',
    role: ev.fd?.role ?? '', sip: ev.sip, sport: ev.sport, cip: ev.cip, cport: ev.cport,
    payload: Buffer.from(ev.payload).toString('latin1'), container: ev.container?.name, user: ev.userName,
    partial: ev.thread.partial,
  };
}

async function run() {
  const { builder, n } = buildScenario();
  const seen: Seen[] = [];
  const stats = await replay(builder.source(5), (ev) => seen.push(see(ev)));
  const byNum = new Map(seen.map((s) => [s.num, s]));
  return { n, seen, stats, at: (num: number) => byNum.get(num)! };
}

describe('probe conversion', () => {
  it('gives both ends of a loopback connection their roles and the same client/server tuple', async () => {
    const { n, at } = await run();
    const client = at(n.request);
    const server = at(n.requestIn);
    expect(client).toMatchObject({ comm: '', pid: 200, fd: 5, fdType: 'ipv4', role: 'client', origin: 'event', payload: REQUEST, partial: true });
    expect(server).toMatchObject({ comm: 'nginx', pid: 100, fd: 7, role: 'server', origin: 'event', container: 'web', user: 'www-data' });
    for (const e of [client, server]) {
      expect(e).toMatchObject({ sip: '127.0.0.1', sport: 8080, cip: '127.0.0.1', cport: 40000, fdName: '127.0.0.1:40000->127.0.0.1:8080' });
    }
    expect(at(n.response).payload).toBe(RESPONSE);
    expect(at(n.responseIn).gen).toBe(client.gen);
    expect(at(n.connect).gen).toBe(at(n.socket).gen);
  });

  it('drops EAGAIN and empty writes but keeps end-of-stream reads and failed connects', async () => {
    const { n, at, stats } = await run();
    expect(at(n.eagain)).toBeUndefined();
    expect(at(n.emptyWrite)).toBeUndefined();
    expect(at(n.eof)).toMatchObject({ fd: 7, role: 'server' });
    expect(at(n.refused)).toMatchObject({ fd: 8, origin: 'inferred' });
    expect(stats).toMatchObject({ records: Object.keys(n).length, dropped: 2, malformed: 0 });
    expect(stats.events).toBe(stats.records - 2);
  });

  it('makes a reused fd number a new entry with a new generation', async () => {
    const { n, at } = await run();
    const before = at(n.close);
    const after = at(n.fileRead);
    expect(before).toMatchObject({ fd: 5, fdType: 'ipv4' });
    expect(after).toMatchObject({ fd: 5, fdType: 'file', fdName: '/etc/hosts', origin: 'event' });
    expect(after.gen).toBeGreaterThan(before.gen);
    expect(at(n.reopen).gen).toBe(after.gen);
  });

  it('lets a forked child inherit the fd table and take a new identity at exec, until it exits', async () => {
    const { n, at } = await run();
    expect(at(n.fork)).toMatchObject({ pid: 100, comm: 'nginx' });
    expect(at(n.exec)).toMatchObject({ pid: 300, comm: 'logger', exe: '/usr/bin/logger', partial: false, container: 'web' });
    const child = at(n.childWrite);
    expect(child).toMatchObject({ pid: 300, comm: 'logger', fd: 3, fdName: '/var/log/nginx/access.log', origin: 'snapshot' });
    // Same open file as the parent's fd 3: the entry is shared, and keys on pid tell the two apart.
    expect(child.gen).toBe(at(n.log).gen);
    expect(at(n.childExit)).toMatchObject({ pid: 300, comm: 'logger' });
  });

  it('gives fds the snapshot missed the context their records carry, marked inferred', async () => {
    const { n, at } = await run();
    expect(at(n.missed)).toMatchObject({ fd: 9, origin: 'inferred', fdType: 'ipv4', role: 'server', sport: 8080, cport: 41000 });
  });

  it('takes the peer of an unconnected UDP socket from the message address', async () => {
    const { n, at } = await run();
    expect(at(n.dnsQuery)).toMatchObject({ comm: 'dnsmasq', role: 'server', sip: '127.0.0.1', sport: 53, cip: '127.0.0.1', cport: 5353, origin: 'snapshot', user: 'root' });
  });

  it('gives TCP tracepoint events a tuple with the role the listening ports imply', async () => {
    const { n, at } = await run();
    expect(at(n.retransmit)).toMatchObject({ name: 'tcp_retransmit', fd: -1, gen: 0, role: 'server', sport: 8080, cport: 40000 });
  });

  it('forgets processes that exited, and keeps the rest', async () => {
    const { builder } = buildScenario();
    const { Replayer } = await import('../../src/probe/replay.js');
    const r = new Replayer(builder.source());
    for await (const c of builder.source().chunks()) r.chunk(c, () => {});
    // pid 0 is the kernel context the TCP tracepoint fired in; 300 exited.
    expect([...r.state.procs.keys()].sort((a, b) => a - b)).toEqual([0, 100, 200, 400]);
    expect(r.state.procs.get(200)!.fds.entries().map(([num]) => num)).toEqual([5, 8]);
  });
});

describe('untrusted records', () => {
  it('skips a record of an unknown type and one whose var length overruns it, naming where', async () => {
    const b = new CaptureBuilder();
    b.add('close', { pid: 1, tid: 1, fields: { fd: 3, res: 0 } });
    const bad = new Uint8Array(24);
    new DataView(bad.buffer).setUint32(0, 24, true);
    new DataView(bad.buffer).setUint16(4, 999, true);
    b.addRaw(bad);
    const overrun = b.schema.byName.get('read')!;
    const rec = new Uint8Array(overrun.minSize);
    const v = new DataView(rec.buffer);
    v.setUint32(0, rec.length, true);
    v.setUint16(4, overrun.id, true);
    v.setUint32(overrun.varLensOffset, 1000, true);
    b.addRaw(rec);
    b.add('close', { pid: 1, tid: 1, fields: { fd: 4, res: 0 } });
    const nums: number[] = [];
    const stats = await replay(b.source(), (ev) => nums.push(ev.num));
    expect(nums).toEqual([1, 4]);
    expect(stats.malformed).toBe(2);
    expect(stats.problems).toEqual([
      'chunk 0 offset 96: unknown event type 999',
      `chunk 0 offset 120: read.data length 1000 overruns the record`,
    ]);
  });

  it('gives up on the rest of a chunk when a length breaks framing', async () => {
    const b = new CaptureBuilder();
    b.add('close', { pid: 1, tid: 1, fields: { fd: 3, res: 0 } });
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, 0xffffffff, true);
    b.addRaw(bad);
    b.add('close', { pid: 1, tid: 1, fields: { fd: 4, res: 0 } });
    const nums: number[] = [];
    const stats = await replay(b.source(2), (ev) => nums.push(ev.num));
    expect(nums).toEqual([1, 2]);
    expect(stats.problems).toEqual(['chunk 0 offset 96: record length 4294967295 does not fit (8 bytes left); rest of chunk skipped']);
  });
});
