/**
 * snapshotTables against the real kernel: a child process with real sockets and files (its fd
 * rows must carry the 4-tuples and ports the child itself reports), processes placed in cgroups
 * named the way docker, containerd, cri-o and podman name theirs (v2 and v1 hierarchies), and a
 * process in its own network namespace whose sockets must come from that namespace's tables.
 * Everything started here is stopped and removed in afterAll/finally, also on failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FdRow, Tables } from '../../src/capture/tables.js';
import { snapshotTables } from '../../src/record/proc/index.js';
import { describeWhen, missingPath, missingRoot } from '../helpers/root.js';

/** What the socket child reports about itself, read back from its stdout. */
interface SocketChildInfo {
  pid: number;
  port: number;
  client: number;
  port6: number | null;
  udp: number;
  file: string;
  fileFd: number;
  fifoFd: number;
  dirFd: number;
}

/**
 * A node child holding: a TCP listener on 127.0.0.1, a client connected to it and the accepted
 * server end, a TCP listener on ::1 (when IPv6 works), a bound UDP socket, and an open file,
 * named FIFO and directory (paths in argv: file, fifo, directory).
 */
const SOCKET_CHILD = `
const net = require('net'), dgram = require('dgram'), fs = require('fs');
const [file, fifo, dir] = process.argv.slice(1);
const keep = [];
const srv = net.createServer((s) => { keep.push(s); step(); });
let pending = 2;
function step() { if (--pending === 0) more(); }
srv.listen(0, '127.0.0.1', () => { keep.push(net.connect(srv.address().port, '127.0.0.1', step)); });
function more() {
  const srv6 = net.createServer();
  srv6.on('error', () => udp(null));
  srv6.listen(0, '::1', () => udp(srv6.address().port));
}
function udp(port6) {
  const u = dgram.createSocket('udp4');
  u.bind(0, '127.0.0.1', () => {
    const fileFd = fs.openSync(file, 'r');
    // Read-write, so opening the FIFO does not wait for a writer.
    const fifoFd = fs.openSync(fifo, 'r+');
    const dirFd = fs.openSync(dir, 'r');
    console.log(JSON.stringify({ pid: process.pid, port: srv.address().port, client: keep[0].localPort,
      port6, udp: u.address().port, file, fileFd, fifoFd, dirFd }));
  });
}
setInterval(() => {}, 1 << 30);
`;

const children: ChildProcess[] = [];

/** Starts a child and resolves with its first stdout line parsed as JSON. */
function startChild<T>(cmd: string, args: string[]): Promise<T> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise<T>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} gave no output within 15 s`)), 15_000);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${cmd} exited with ${code} before reporting`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      ok(JSON.parse(line) as T);
    });
  });
}

/** Kills every child started so far and waits until each is reaped (so cgroups empty out). */
async function stopChildren(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => new Promise<void>((done) => {
    if (c.exitCode !== null || c.signalCode !== null) return done();
    c.once('exit', () => done());
    c.kill('SIGKILL');
  })));
}

/** Boot-clock ns now, as /proc/uptime tells it (the clock /proc/PID/stat start times count on). */
function uptimeNs(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e9;
}

const ownNetNs = (): number => statSync('/proc/self/ns/net').ino;

function sockets(tables: Tables, pid: number, l4proto: string): FdRow[] {
  return tables.fds.filter((f) => f.pid === pid && f.l4proto === l4proto);
}

/** The socket fields of rows, sorted, for comparison with what the child says it holds. */
function tuples(rows: FdRow[]): string[] {
  return rows.map((f) => `${f.kind} ${f.laddr}:${f.lport} ${f.raddr}:${f.rport} ${f.state ?? '-'}`).sort();
}

describe('snapshot of a process with sockets and files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kcap-proc-'));
  const file = join(dir, 'open-me.txt');
  const fifo = join(dir, 'fifo');
  let info: SocketChildInfo;
  let before: number;
  let tables: Tables;

  beforeAll(async () => {
    writeFileSync(file, 'kcap\n');
    execFileSync('mkfifo', [fifo]);
    before = uptimeNs();
    info = await startChild<SocketChildInfo>(process.execPath, ['-e', SOCKET_CHILD, file, fifo, dir]);
    tables = await snapshotTables({ pids: new Set([info.pid]) });
  });
  afterAll(async () => {
    await stopChildren();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the TCP and UDP sockets the child reports, with addresses, ports and states', () => {
    const expected = [
      `ipv4 127.0.0.1:${info.port} 0.0.0.0:0 LISTEN`,
      `ipv4 127.0.0.1:${info.client} 127.0.0.1:${info.port} ESTABLISHED`,
      `ipv4 127.0.0.1:${info.port} 127.0.0.1:${info.client} ESTABLISHED`,
      ...(info.port6 === null ? [] : [`ipv6 ::1:${info.port6} :::0 LISTEN`]),
    ];
    expect(tuples(sockets(tables, info.pid, 'tcp'))).toEqual(expected.sort());
    expect(tuples(sockets(tables, info.pid, 'udp'))).toEqual([`ipv4 127.0.0.1:${info.udp} 0.0.0.0:0 -`]);
    for (const s of [...sockets(tables, info.pid, 'tcp'), ...sockets(tables, info.pid, 'udp')]) {
      expect(s.name).toBe(`socket:[${s.ino}]`);
    }
  });

  it('has the open file, FIFO and directory by path and inode, and the child\'s pipes and event loop fds', () => {
    const row = (fd: number): FdRow | undefined => tables.fds.find((f) => f.pid === info.pid && f.fd === fd);
    expect(row(info.fileFd)).toEqual({ pid: info.pid, fd: info.fileFd, kind: 'file', name: file, ino: statSync(file).ino });
    expect(row(info.fifoFd)).toEqual({ pid: info.pid, fd: info.fifoFd, kind: 'pipe', name: fifo, ino: statSync(fifo).ino });
    expect(row(info.dirFd)).toEqual({ pid: info.pid, fd: info.dirFd, kind: 'dir', name: dir, ino: statSync(dir).ino });
    const kinds = new Set(tables.fds.filter((f) => f.pid === info.pid).map((f) => f.kind));
    // stdout is a pipe to us; libuv runs on epoll and wakes through an eventfd.
    for (const k of ['pipe', 'epoll', 'eventfd'] as const) expect(kinds).toContain(k);
  });

  it('reads fds of the traced pid only', () => {
    expect(new Set(tables.fds.map((f) => f.pid))).toEqual(new Set([info.pid]));
  });

  it('has the child\'s threads with its identity, parent and start time', () => {
    const rows = tables.threads.filter((t) => t.pid === info.pid);
    expect(rows.map((t) => t.tid)).toContain(info.pid);
    const main = rows.find((t) => t.tid === info.pid)!;
    expect(main).toMatchObject({
      ppid: process.pid, comm: 'node', exe: realpathSync(process.execPath), uid: process.getuid!(), gid: process.getgid!(),
      netNs: ownNetNs(), pidNs: statSync('/proc/self/ns/pid').ino, containerId: '', cwd: process.cwd(),
    });
    expect(main.args).toEqual([process.execPath, '-e', SOCKET_CHILD, file, fifo, dir]);
    // Start times have clock-tick (10 ms) resolution.
    expect(main.startNs).toBeGreaterThanOrEqual(before - 20e6);
    expect(main.startNs).toBeLessThanOrEqual(uptimeNs());
    for (const t of rows) expect(t.args).toEqual(main.args);
  });

  it('lists every process and its fds when no pid set is given', async () => {
    const all = await snapshotTables();
    const pids = new Set(all.threads.map((t) => t.pid));
    expect(pids).toContain(process.pid);
    expect(pids).toContain(info.pid);
    expect(all.fds.some((f) => f.pid === process.pid)).toBe(true);
    expect(tuples(sockets(all, info.pid, 'udp'))).toEqual(tuples(sockets(tables, info.pid, 'udp')));
    // Sorted by pid then tid / fd, so the table is the same however /proc ordered things.
    const threadKeys = all.threads.map((t) => [t.pid, t.tid] as const);
    expect([...threadKeys].sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual(threadKeys);
    expect(all.users.find((u) => u.uid === 0)?.name).toBe('root');
    expect(all.interfaces.some((i) => i.name === 'lo' && i.addrs.includes('127.0.0.1/8') && i.netNs === ownNetNs())).toBe(true);
  });
});

describe('snapshot while processes come and go', () => {
  afterAll(stopChildren);

  it('skips processes that exit mid-scan instead of failing', async () => {
    // Each loop forks and reaps a short-lived process as fast as it can.
    const churners = [0, 1].map(() => spawn('sh', ['-c', 'while :; do /bin/true; done'], { stdio: 'ignore' }));
    children.push(...churners);
    await Promise.all(churners.map((c) => new Promise((ok) => c.once('spawn', ok))));
    for (let i = 0; i < 10; i++) {
      const tables = await snapshotTables();
      for (const c of churners) expect(tables.threads.some((t) => t.pid === c.pid && t.comm === 'sh')).toBe(true);
      expect(tables.fds.every((f) => tables.threads.some((t) => t.pid === f.pid))).toBe(true);
    }
  });
});

const CGROUP_V2 = '/sys/fs/cgroup/unified';
const CGROUP_V1_PIDS = '/sys/fs/cgroup/pids';
const hex64 = (): string => randomBytes(32).toString('hex');

describeWhen(missingRoot() ?? missingPath(`${CGROUP_V2}/cgroup.procs`) ?? missingPath(`${CGROUP_V1_PIDS}/cgroup.procs`),
  'container ids of processes in runtime-named cgroups', () => {
    const top = `kcap-test-${randomBytes(4).toString('hex')}`;
    const pod = `pod${randomBytes(16).toString('hex')}`;
    /** [hierarchy, path under the test's top cgroup, runtime expected ('' = host), id expected]. */
    const placements: [string, string, string, string][] = (() => {
      const ids = Array.from({ length: 8 }, hex64);
      return [
        [CGROUP_V2, `docker/${ids[0]}`, 'docker', ids[0]!],
        [CGROUP_V2, `system.slice/docker-${ids[1]}.scope`, 'docker', ids[1]!],
        [CGROUP_V2, `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${pod}.slice/cri-containerd-${ids[2]}.scope`, 'containerd', ids[2]!],
        [CGROUP_V2, `kubepods/burstable/${pod}/${ids[3]}`, 'containerd', ids[3]!],
        [CGROUP_V2, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${pod}.slice/crio-${ids[4]}.scope`, 'cri-o', ids[4]!],
        [CGROUP_V2, `machine.slice/libpod-${ids[5]}.scope/container`, 'podman', ids[5]!],
        [CGROUP_V2, `machine.slice/libpod-conmon-${ids[5]}.scope`, '', ''],
        [CGROUP_V1_PIDS, `docker/${ids[6]}`, 'docker', ids[6]!],
        [CGROUP_V1_PIDS, `machine.slice/libpod-${ids[7]}.scope`, 'podman', ids[7]!],
      ];
    })();
    const made: string[] = [];
    const pids: number[] = [];
    let tables: Tables;

    /** Creates a cgroup and each missing parent, remembering them for removal deepest first. */
    function makeCgroup(hierarchy: string, path: string): string {
      let dir = join(hierarchy, top);
      for (const part of ['', ...path.split('/')]) {
        dir = join(dir, part);
        try {
          mkdirSync(dir);
          made.push(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      return dir;
    }

    beforeAll(async () => {
      for (const [hierarchy, path] of placements) {
        const cg = makeCgroup(hierarchy, path);
        const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
        children.push(sleeper);
        writeFileSync(join(cg, 'cgroup.procs'), String(sleeper.pid));
        pids.push(sleeper.pid!);
      }
      tables = await snapshotTables({ pids: new Set(pids) });
    });
    afterAll(async () => {
      await stopChildren();
      for (const dir of made.reverse()) {
        try {
          rmdirSync(dir);
        } catch (err) {
          console.warn(`could not remove cgroup ${dir}: ${(err as Error).message}`);
        }
      }
    });

    it('gives every sleeper the id and runtime of its cgroup, and a container row', () => {
      placements.forEach(([, path, runtime, id], i) => {
        const thread = tables.threads.find((t) => t.pid === pids[i]);
        expect(thread?.comm, path).toBe('sleep');
        expect(thread?.containerId, path).toBe(id);
        if (!runtime) return;
        const row = tables.containers.find((c) => c.id === id);
        expect(row, path).toMatchObject({ id, runtime, cgroup: `/${top}/${path}`, name: '', image: '' });
      });
      const expectedIds = placements.map((p) => p[3]).filter((id) => id !== '').sort();
      expect(tables.containers.map((c) => c.id).filter((id) => expectedIds.includes(id))).toEqual(expectedIds);
    });

    it('leaves host processes outside any container', () => {
      expect(tables.threads.find((t) => t.pid === process.pid)?.containerId).toBe('');
    });
  });

describeWhen(missingRoot(), 'a traced process in its own network namespace', () => {
  const ns = `kcap-test-${randomBytes(4).toString('hex')}`;
  let created = false;
  let info: SocketChildInfo;
  let hostTwin: Server | undefined;
  let tables: Tables;
  const dir = mkdtempSync(join(tmpdir(), 'kcap-netns-'));

  beforeAll(async () => {
    execFileSync('bash', [resolve('scripts/ensure-packages.sh'), 'iproute2', 'util-linux'], { stdio: 'inherit' });
    execFileSync('ip', ['netns', 'add', ns]);
    created = true;
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const file = join(dir, 'f');
    writeFileSync(file, '');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    info = await startChild<SocketChildInfo>('ip', ['netns', 'exec', ns, process.execPath, '-e', SOCKET_CHILD, file, join(dir, 'fifo'), dir]);
    // The same address and port in the host namespace: only namespace-aware lookups tell them apart.
    hostTwin = createServer();
    await new Promise<void>((ok, fail) => {
      hostTwin!.once('error', fail);
      hostTwin!.listen(info.port, '127.0.0.1', ok);
    });
    tables = await snapshotTables({ pids: new Set([info.pid, process.pid]) });
  });
  afterAll(async () => {
    await stopChildren();
    await new Promise<void>((done) => (hostTwin ? hostTwin.close(() => done()) : done()));
    if (created) execFileSync('ip', ['netns', 'delete', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('records the namespace on the thread and takes its sockets from that namespace', () => {
    const nsIno = statSync(`/run/netns/${ns}`).ino;
    expect(nsIno).not.toBe(ownNetNs());
    const thread = tables.threads.find((t) => t.tid === info.pid);
    expect(thread?.netNs).toBe(nsIno);
    expect(tuples(sockets(tables, info.pid, 'tcp'))).toEqual([
      `ipv4 127.0.0.1:${info.client} 127.0.0.1:${info.port} ESTABLISHED`,
      `ipv4 127.0.0.1:${info.port} 0.0.0.0:0 LISTEN`,
      `ipv4 127.0.0.1:${info.port} 127.0.0.1:${info.client} ESTABLISHED`,
      ...(info.port6 === null ? [] : [`ipv6 ::1:${info.port6} :::0 LISTEN`]),
    ].sort());
    const hostListener = sockets(tables, process.pid, 'tcp').filter((s) => s.lport === info.port && s.state === 'LISTEN');
    expect(hostListener).toHaveLength(1);
    const nsListener = sockets(tables, info.pid, 'tcp').find((s) => s.state === 'LISTEN' && s.kind === 'ipv4')!;
    expect(hostListener[0]!.ino).not.toBe(nsListener.ino);
  });

  it('lists the namespace\'s own interfaces', () => {
    const nsIno = statSync(`/run/netns/${ns}`).ino;
    const lo = tables.interfaces.filter((i) => i.netNs === nsIno);
    expect(lo.map((i) => i.name)).toEqual(['lo']);
    expect(lo[0]!.addrs).toContain('127.0.0.1/8');
  });
});
