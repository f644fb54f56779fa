/**
 * Every syscall family the probes cover, driven by one small Python program (Debian's python3)
 * that reports the fds and ports it got: each call appears once with the fields the schema
 * promises (fds, results, offsets, flags, addresses, payloads gathered across iovecs).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProbes } from '../../src/record/bpf/index.js';
import type { DecodedRecord } from '../../src/schema/decode.js';
import { decodeAll, describeBpf, drainAll, spawnTraced } from '../helpers/bpf.js';

const SCRIPT = `import ctypes, json, os, socket, fcntl, sys
d = sys.argv[1]
r = {}
fd = os.open(d + '/f', os.O_RDWR | os.O_CREAT, 0o640); r['fd'] = fd
os.writev(fd, [b'hello ', b'vector'])
os.pwrite(fd, b'PW', 100)
os.pread(fd, 2, 100)
os.lseek(fd, 0, 0)
os.readv(fd, [bytearray(6), bytearray(6)])
r['dup'] = ctypes.CDLL(None).dup(fd)  # os.dup would use fcntl(F_DUPFD_CLOEXEC)
r['dup2'] = os.dup2(fd, 50)
r['dup3'] = os.dup2(fd, 51, inheritable=False)
r['dupfd'] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 60)
a, b = socket.socketpair(); r['pair'] = [a.fileno(), b.fileno()]
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(7); r['port'] = s.getsockname()[1]; r['listen'] = s.fileno()
c = socket.create_connection(('127.0.0.1', r['port'])); conn, _ = s.accept()
r['client'] = c.fileno(); r['conn'] = conn.fileno(); r['cport'] = c.getsockname()[1]
r['sent'] = os.sendfile(c.fileno(), fd, 0, 12)
conn.recv(100)
c.sendmsg([b'ab', b'cd']); conn.recvmsg(10)
c.sendmsg([b'%c' % (65 + i % 26) for i in range(200)]); conn.recv(300)  # gRPC writes frames in as many iovecs
c.shutdown(socket.SHUT_WR)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u2.bind(('127.0.0.1', 0)); r['uport'] = u2.getsockname()[1]
u.sendto(b'dgram', ('127.0.0.1', r['uport'])); _, src = u2.recvfrom(100); r['usrc'] = src[1]
os.close(r['dup'])
print(json.dumps(r))
`;

const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const data = (r: DecodedRecord, v = 'data') => Buffer.from((r.vars[v] as Uint8Array | undefined) ?? []);
const sockaddrPort = (sa: Buffer) => (sa.length >= 4 ? sa.readUInt16BE(2) : -1);

/** What the Python program reports (its stdout, JSON). */
interface Got {
  fd: number; dup: number; dup2: number; dup3: number; dupfd: number; pair: [number, number];
  port: number; listen: number; client: number; conn: number; cport: number; sent: number; uport: number; usrc: number;
}

describeBpf('BPF probes: every syscall family', () => {
  let dir: string;
  let got: Got;
  let recs: DecodedRecord[] = [];
  const one = (name: string, pred: (r: DecodedRecord) => boolean = () => true) => {
    const found = recs.filter((r) => r.name === name && pred(r));
    expect(found, name).toHaveLength(1);
    return found[0]!;
  };

  beforeAll(async () => {
    execFileSync('bash', ['scripts/ensure-packages.sh', 'python3'], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'kcap-sc-'));
    writeFileSync(join(dir, 'sc.py'), SCRIPT);
    const probes = openProbes({ pids: [] });
    const chunks: Buffer[] = [];
    try {
      const t = spawnTraced(`/usr/bin/python3 ${dir}/sc.py ${dir}`, probes);
      expect(await t.exited).toBe(0);
      got = JSON.parse(t.stdout()) as Got;
      await drainAll(probes, chunks);
    } finally {
      probes.close();
    }
    recs = decodeAll(chunks).filter((r) => r.event.category !== 'tcp');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('files: openat, writev, pwrite64, pread64, readv', () => {
    const open = one('openat', (r) => r.vars.path === `${dir}/f`);
    expect(open.fields.res).toBe(got.fd);
    expect(open.fields.mode).toBe(0o640);
    expect(data(one('writev', (r) => r.fields.fd === got.fd)).toString()).toBe('hello vector');
    const pw = one('pwrite64', (r) => r.fields.fd === got.fd && r.fields.pos === 100);
    expect([pw.fields.pos, data(pw).toString()]).toEqual([100, 'PW']);
    const pr = one('pread64', (r) => r.fields.fd === got.fd && r.fields.pos === 100);
    expect([pr.fields.pos, pr.fields.res, data(pr).toString()]).toEqual([100, 2, 'PW']);
    expect(data(one('readv', (r) => r.fields.fd === got.fd)).toString()).toBe('hello vector');
  });

  it('fd duplication: dup, dup2, dup3, fcntl F_DUPFD_CLOEXEC, close', () => {
    expect(one('dup', (r) => r.fields.oldfd === got.fd).fields.res).toBe(got.dup);
    expect(one('dup2', (r) => r.fields.oldfd === got.fd).fields.res).toBe(got.dup2);
    const d3 = one('dup3', (r) => r.fields.oldfd === got.fd);
    expect([d3.fields.res, d3.fields.flags]).toEqual([got.dup3, O_CLOEXEC]);
    const f = one('fcntl_dupfd', (r) => r.fields.oldfd === got.fd && r.fields.res === got.dupfd);
    expect([f.fields.res, f.fields.flags]).toEqual([got.dupfd, F_DUPFD_CLOEXEC]);
    // fd numbers are reused during interpreter start-up: the close after the dup is the last one.
    const dupAt = one('dup', (r) => r.fields.oldfd === got.fd).ts;
    const closes = recs.filter((r) => r.name === 'close' && r.fields.fd === got.dup && r.ts > dupAt);
    expect(closes.map((r) => r.fields.res)).toEqual([0]);
  });

  it('sockets: socketpair, socket, bind, listen, connect, accept4, shutdown', () => {
    const pair = one('socketpair');
    expect([pair.fields.domain, pair.fields.fd0, pair.fields.fd1]).toEqual([1, ...got.pair]);
    expect(recs.filter((r) => r.name === 'socket' && r.fields.domain === 2).length).toBeGreaterThanOrEqual(3);
    const bind = one('bind', (r) => r.fields.fd === got.listen);
    expect(bind.fields.lport).toBe(got.port);
    const listen = one('listen', (r) => r.fields.fd === got.listen);
    expect([listen.fields.backlog, listen.fields.lport, listen.fields.l4proto]).toEqual([7, got.port, 6]);
    const connect = one('connect', (r) => r.fields.rport === got.port);
    expect(sockaddrPort(data(connect, 'addr'))).toBe(got.port);
    expect(connect.fields.lport).toBe(got.cport);
    const accept = one('accept4', (r) => r.fields.listen_fd === got.listen);
    expect([accept.fields.fd, accept.fields.rport, sockaddrPort(data(accept, 'addr'))]).toEqual([got.conn, got.cport, got.cport]);
    const sd = one('shutdown', (r) => r.fields.fd === got.client);
    expect([sd.fields.how, sd.fields.rport]).toEqual([1, got.port]);
  });

  it('transfers: sendfile, sendmsg across iovecs, recvmsg, sendto/recvfrom with addresses', () => {
    const sf = one('sendfile', (r) => r.fields.fd === got.client);
    expect([sf.fields.in_fd, sf.fields.res, sf.fields.rport]).toEqual([got.fd, got.sent, got.port]);
    expect(data(one('sendmsg', (r) => r.fields.fd === got.client && r.fields.res === 4)).toString()).toBe('abcd');
    const many = Array.from({ length: 200 }, (_, i) => String.fromCharCode(65 + (i % 26))).join('');
    expect(data(one('sendmsg', (r) => r.fields.fd === got.client && r.fields.res === 200)).toString()).toBe(many);
    expect(data(one('recvmsg', (r) => r.fields.fd === got.conn)).toString()).toBe('abcd');
    const st = one('sendto', (r) => data(r).toString() === 'dgram');
    expect([st.fields.l4proto, sockaddrPort(data(st, 'addr'))]).toEqual([17, got.uport]);
    const rf = one('recvfrom', (r) => data(r).toString() === 'dgram');
    expect([rf.fields.lport, sockaddrPort(data(rf, 'addr'))]).toEqual([got.uport, got.usrc]);
  });
});
