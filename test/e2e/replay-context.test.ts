/**
 * Replay on real recordings (the replay issue's proof): after conversion every event on a loopback
 * connection carries the right process and socket context on both ends; a traced command tree
 * shows the right names before and after exec; an fd number reused after close is a new entry.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { processTree } from '../../src/record/proc/index.js';
import { kcap, recordCommand } from '../helpers/cli.js';
import { ensurePackages, startNginx, type Server } from '../helpers/servers.js';

interface PrintedFd {
  readonly num: number;
  readonly gen: number;
  readonly type: string;
  readonly name: string;
  readonly role: string | null;
  readonly sport: number | null;
  readonly cport: number | null;
}

interface Printed {
  readonly type: string;
  readonly dir: 'in' | 'out' | null;
  readonly pid: number;
  readonly comm: string;
  readonly exe: string;
  readonly fd: PrintedFd | null;
  readonly res: number | null;
  readonly args: Record<string, string>;
  readonly data: string | null;
}

async function events(file: string, filter: string[] = []): Promise<Printed[]> {
  const r = await kcap(['print', '--json', '-q', file, ...filter]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Printed);
}

const text = (b64: string | null): string => Buffer.from(b64 ?? '', 'base64').toString('latin1');

describeBpf('replay of real recordings', () => {
  let nginx: (Server & { accessLog(): string[] }) | undefined;
  let dir: string;

  beforeAll(async () => {
    const missing = ensurePackages('nginx', 'curl', 'python3');
    if (missing) throw new Error(missing);
    nginx = await startNginx({ 'index.html': 'hello\n' });
    dir = mkdtempSync(join(tmpdir(), 'kcap-replay-ctx-'));
  });

  afterAll(async () => {
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives both ends of a loopback connection their process and socket context', async () => {
    const file = join(dir, 'http.kcap');
    const rounds = 5;
    const urls = Array.from({ length: rounds }, () => `http://127.0.0.1:${nginx!.port}/index.html`);
    await recordCommand(file, ['curl', '-s', '-o', '/dev/null', ...urls], { pids: processTree(nginx!.pid) });
    const io = (await events(file, ['evt.is_io', '=', 'true', 'and', 'fd.sport', '=', String(nginx!.port)]));
    const requests = io.filter((e) => text(e.data).startsWith('GET /index.html'));
    const client = requests.filter((e) => e.dir === 'out');
    const server = requests.filter((e) => e.dir === 'in');
    expect(client).toHaveLength(rounds);
    expect(server).toHaveLength(rounds);
    for (const e of client) {
      expect([e.comm, e.fd?.role, e.fd?.type, e.fd?.sport]).toEqual(['curl', 'client', 'ipv4', nginx!.port]);
    }
    for (const e of server) {
      expect([e.comm, e.fd?.role, e.fd?.type, e.fd?.sport]).toEqual(['nginx', 'server', 'ipv4', nginx!.port]);
    }
    // Same connection seen from both ends: the client's local port is the server's peer port.
    expect(new Set(server.map((e) => e.fd?.cport))).toEqual(new Set(client.map((e) => e.fd?.cport)));
    expect(new Set(client.map((e) => e.fd?.name))).toEqual(new Set(server.map((e) => e.fd?.name)));
    expect(nginx!.accessLog().length).toBeGreaterThanOrEqual(rounds);
  });

  it('names a traced command tree correctly before and after exec', async () => {
    const file = join(dir, 'tree.kcap');
    // The subshell is a forked sh that reads a file itself (a builtin) and then execs cat.
    await recordCommand(file, ['sh', '-c', `(read x < /etc/hostname; exec cat /etc/hostname) >/dev/null; curl -s -o /dev/null http://127.0.0.1:${nginx!.port}/`]);
    const all = await events(file);
    const execs = all.filter((e) => e.type === 'exec');
    expect(execs.map((e) => e.comm)).toEqual(expect.arrayContaining(['sh', 'cat', 'curl']));
    const catExec = execs.find((e) => e.comm === 'cat')!;
    // Before its exec, the forked child was a copy of sh; after it, the same pid is cat.
    const before = all.filter((e) => e.pid === catExec.pid && all.indexOf(e) < all.indexOf(catExec));
    const after = all.filter((e) => e.pid === catExec.pid && all.indexOf(e) > all.indexOf(catExec));
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((e) => e.comm === 'sh')).toBe(true);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((e) => e.comm === 'cat' && e.exe === '/usr/bin/cat')).toBe(true);
    const reads = (comm: string): boolean => all.some((e) => e.pid === catExec.pid && e.comm === comm && e.type === 'read' && e.fd?.name === '/etc/hostname');
    expect([reads('sh'), reads('cat')]).toEqual([true, true]);
  });

  it('treats an fd number reused after close as a new entry', async () => {
    const file = join(dir, 'reuse.kcap');
    const script = join(dir, 'reuse.py');
    writeFileSync(script, [
      'import os, socket',
      'fd = os.open("/etc/hostname", os.O_RDONLY); os.read(fd, 64); os.close(fd)',
      's = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))',
      'assert s.fileno() == fd, (s.fileno(), fd)',
      's.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); s.recv(4096); s.close()',
      'print(fd)',
    ].join('\n'));
    const out = await recordCommand(file, ['env', `PORT=${nginx!.port}`, 'python3', script]);
    const fdNum = Number(out.trim());
    const onFd = (await events(file, ['proc.name', '=', 'python3'])).filter((e) => e.fd?.num === fdNum && ['read', 'write', 'sendto', 'recvfrom'].includes(e.type));
    const fileRead = onFd.find((e) => e.type === 'read' && e.fd?.name === '/etc/hostname');
    const sockIo = onFd.filter((e) => e.fd?.type === 'ipv4');
    expect(fileRead).toBeDefined();
    expect(sockIo.length).toBeGreaterThanOrEqual(2);
    expect(sockIo.every((e) => e.fd!.gen !== fileRead!.fd!.gen && e.fd!.sport === nginx!.port)).toBe(true);
  });
});
