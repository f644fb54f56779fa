/**
 * State transitions one event kind at a time: bind/listen make a server, dup gives a new entry for
 * the same socket, close-on-exec fds vanish at exec, shutdown is remembered, socketpair makes two
 * unix fds, openat resolves against a known directory fd, and a TCP LISTEN transition teaches the
 * listening port.
 */
import { describe, expect, it } from 'vitest';
import type { KEvent } from '../../src/probe/event.js';
import { Replayer } from '../../src/probe/replay.js';
import { CaptureBuilder, sockaddrIn, tupleFields } from '../helpers/source.js';
import { io } from './scenario.js';

const P = { pid: 50, tid: 50 };
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;

async function run(b: CaptureBuilder) {
  const r = new Replayer(b.source());
  const byNum = new Map<number, { fd: number; gen: number; kind: string; name: string; role: string; origin: string; shut: number }>();
  const see = (ev: KEvent) => byNum.set(ev.num, {
    fd: ev.fdNum, gen: ev.fd?.gen ?? -1, kind: ev.fd?.kind ?? '', name: ev.fd?.name ?? '', role: ev.fd?.role ?? '',
    origin: ev.fd?.origin ?? '', shut: ev.fd?.shut ?? 0,
  });
  for await (const c of b.source().chunks()) r.chunk(c, see);
  return { at: (n: number) => byNum.get(n)!, state: r.state };
}

describe('replay state', () => {
  it('makes a bound UDP socket a server and a listening TCP port a server for sockets seen later', async () => {
    const b = new CaptureBuilder();
    b.add('socket', { ...P, fields: { res: 3, domain: 2, socktype: 2 } });
    const bind = b.add('bind', { ...P, fields: io(3, 0), vars: { addr: sockaddrIn('0.0.0.0', 5353) } });
    b.add('socket', { ...P, fields: { res: 4, domain: 2, socktype: 1 } });
    const listen = b.add('listen', { ...P, fields: { ...io(4, 0, { ino: 0, laddr: '127.0.0.1', lport: 9000, raddr: '0.0.0.0', rport: 0 }), backlog: 128 } });
    const later = b.add('read', { ...P, fields: io(12, 5, { ino: 77, laddr: '127.0.0.1', lport: 9000, raddr: '127.0.0.1', rport: 50000 }), vars: { data: 'hello' } });
    const { at } = await run(b);
    expect(at(bind)).toMatchObject({ kind: 'ipv4', role: 'server', name: '0.0.0.0:5353' });
    expect(at(listen)).toMatchObject({ role: 'server', name: '127.0.0.1:9000' });
    expect(at(later)).toMatchObject({ origin: 'inferred', role: 'server', name: '127.0.0.1:50000->127.0.0.1:9000' });
  });

  it('gives a dup a new entry for the same socket, which outlives closing the original', async () => {
    const b = new CaptureBuilder();
    const t = { ino: 5, laddr: '10.0.0.1', lport: 40000, raddr: '10.0.0.2', rport: 443 };
    b.add('socket', { ...P, fields: { res: 7, domain: 2, socktype: 1 } });
    const connect = b.add('connect', { ...P, fields: io(7, -115, t), vars: { addr: sockaddrIn('10.0.0.2', 443) } });
    const dup = b.add('dup2', { ...P, fields: { res: 10, oldfd: 7 } });
    b.add('close', { ...P, fields: io(7, 0, t) });
    const write = b.add('write', { ...P, fields: io(10, 3, t), vars: { data: 'abc' } });
    const shut = b.add('shutdown', { ...P, fields: { ...io(10, 0, t), how: 1 } });
    const { at, state } = await run(b);
    expect(at(connect)).toMatchObject({ role: 'client', name: '10.0.0.1:40000->10.0.0.2:443' });
    expect(at(dup)).toMatchObject({ fd: 10, role: 'client', name: '10.0.0.1:40000->10.0.0.2:443', origin: 'event' });
    expect(at(dup).gen).not.toBe(at(connect).gen);
    expect(at(write)).toMatchObject({ fd: 10, gen: at(dup).gen });
    expect(at(shut).shut).toBe(2);
    expect(state.procs.get(50)!.fds.entries().map(([n]) => n)).toEqual([10]);
  });

  it('closes close-on-exec fds at exec and keeps the others', async () => {
    const b = new CaptureBuilder();
    b.add('openat', { ...P, fields: { res: 3, dirfd: -100, flags: O_CLOEXEC }, vars: { path: '/etc/shadow' } });
    b.add('openat', { ...P, fields: { res: 4, dirfd: -100, flags: 0 }, vars: { path: '/tmp/keep' } });
    b.add('socket', { ...P, fields: { res: 5, domain: 2, socktype: 1 | 0o2000000 } });
    b.add('exec', { ...P, fields: { old_tid: 50 }, vars: { filename: '/bin/true', comm: 'true', args: 'true\0' } });
    const after = b.add('read', { ...P, fields: io(3, 1), vars: { data: 'x' } });
    const { at, state } = await run(b);
    // 3 is back only as the entry the later read inferred; 5 (SOCK_CLOEXEC) is gone.
    expect(state.procs.get(50)!.fds.entries().map(([n, fd]) => [n, fd.path, fd.origin])).toEqual([[3, '', 'inferred'], [4, '/tmp/keep', 'event']]);
    expect(at(after)).toMatchObject({ fd: 3, origin: 'inferred', kind: 'unknown' });
  });

  it('makes two unix fds for a socketpair and resolves openat against a known directory fd', async () => {
    const b = new CaptureBuilder();
    b.add('socketpair', { ...P, fields: { res: 0, domain: 1, socktype: 1, fd0: 6, fd1: 7 } });
    b.add('openat', { ...P, fields: { res: 8, dirfd: -100, flags: O_DIRECTORY }, vars: { path: '/etc/' } });
    const rel = b.add('openat', { ...P, fields: { res: 9, dirfd: 8, flags: 0 }, vars: { path: 'hosts' } });
    const { at, state } = await run(b);
    expect(state.procs.get(50)!.fds.entries().map(([n, fd]) => [n, fd.kind])).toEqual([[6, 'unix'], [7, 'unix'], [8, 'dir'], [9, 'file']]);
    expect(at(rel)).toMatchObject({ name: '/etc/hosts' });
  });

  it('takes a socket on an fd the state knows as a file for a reused fd number', async () => {
    const b = new CaptureBuilder();
    b.fd({ pid: 50, fd: 4, kind: 'file', name: '/var/log/app.log', ino: 0 });
    const log = b.add('write', { ...P, fields: io(4, 2), vars: { data: 'ok' } });
    const sock = b.add('write', { ...P, fields: io(4, 2, { ino: 31, laddr: '127.0.0.1', lport: 41000, raddr: '127.0.0.1', rport: 80 }), vars: { data: 'GE' } });
    const { at } = await run(b);
    expect(at(log)).toMatchObject({ kind: 'file', name: '/var/log/app.log', origin: 'snapshot' });
    expect(at(sock)).toMatchObject({ kind: 'ipv4', origin: 'inferred', role: 'client', name: '127.0.0.1:41000->127.0.0.1:80' });
    expect(at(sock).gen).not.toBe(at(log).gen);
  });

  it('learns a listening port from a TCP state change to LISTEN', async () => {
    const b = new CaptureBuilder();
    b.add('sock_set_state', { pid: 0, tid: 0, fields: { ...tupleFields({ laddr: '127.0.0.1', lport: 6379, raddr: '0.0.0.0', rport: 0 }), oldstate: 7, newstate: 10 } });
    const seen = b.add('write', { ...P, fields: io(20, 4, { ino: 9, laddr: '127.0.0.1', lport: 6379, raddr: '127.0.0.1', rport: 51000 }), vars: { data: '+OK\n' } });
    const { at } = await run(b);
    expect(at(seen)).toMatchObject({ role: 'server', name: '127.0.0.1:51000->127.0.0.1:6379' });
  });
});
