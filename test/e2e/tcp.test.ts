/**
 * TCP health in the analyze report comes from the kernel's tcp tracepoints on a real recording:
 * a connection refused on loopback is a reset sent (named by the refused segment's tuple, though
 * no socket sent it) and a reset received; a served connection
 * carries the kernel's smoothed RTT samples. Under a process filter, TCP events follow the sockets
 * of the traced processes, whichever task the kernel runs them in, and a traced listener's port
 * only in its own network namespace and only while it listens.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBpf } from '../helpers/bpf.js';
import { analyzeJson, recordCommand, recordWhile } from '../helpers/cli.js';
import { client, ensurePackages, freePort, startNginx, type Server } from '../helpers/servers.js';

describeBpf('TCP health on a real recording', () => {
  let nginx: Server | undefined;
  let dir: string;

  beforeAll(async () => {
    const missing = ensurePackages('nginx', 'curl', 'iproute2');
    if (missing) throw new Error(missing);
    nginx = await startNginx({ 'index.html': 'x'.repeat(100_000) });
    dir = mkdtempSync(join(tmpdir(), 'kcap-tcp-'));
  });

  afterAll(async () => {
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts the resets of a refused connection and the RTT of a served one', async () => {
    const file = join(dir, 'tcp.kcap');
    const closed = await freePort();
    const refused = 3;
    const curls = Array.from({ length: refused }, () => `curl -s -o /dev/null http://127.0.0.1:${closed}/;`).join(' ');
    const out = await recordCommand(file, ['sh', '-c', `${curls} curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${nginx!.port}/`]);
    expect(out).toBe('200');
    const r = await analyzeJson(file);
    // The kernel answers each SYN to a closed port with a reset that no socket owns, and the
    // connecting socket receives it.
    expect(r.tcp.totals).toMatchObject({ resetsSent: refused, resetsWithoutSocket: refused, resetsReceived: refused });
    const refusedConns = r.tcp.connections.filter((c) => c.remote.endsWith(`:${closed}`));
    expect(refusedConns.map((c) => c.resetsReceived)).toEqual(Array(refused).fill(1));
    // The resets no socket sent are named by the refused segments' tuples: the closed port's
    // side of each refused connection, mirroring the client's.
    const closedSide = r.tcp.connections.filter((c) => c.local.endsWith(`:${closed}`));
    expect(closedSide.map((c) => c.resetsSent)).toEqual(Array(refused).fill(1));
    expect(closedSide.map((c) => c.remote).sort()).toEqual(refusedConns.map((c) => c.local).sort());
    const served = r.tcp.connections.filter((c) => c.local.endsWith(`:${nginx!.port}`) || c.remote.endsWith(`:${nginx!.port}`));
    expect(served.some((c) => c.rttSamples > 0 && c.srttMaxUs > 0)).toBe(true);
    expect(r.tcp.totals.retransmits).toBe(0);
  });

  it('under a process filter keeps the TCP events of the traced processes\' sockets only', async () => {
    const n = 4;
    const url = `http://127.0.0.1:${nginx!.port}/`;
    const isServerEnd = (end: string): boolean => end.endsWith(`:${nginx!.port}`);

    // Only the client traced: its connections' events, none of nginx's ends (the server's
    // segments are handled in the client's context on loopback, so the task is no guide).
    const clientFile = join(dir, 'client.kcap');
    await recordCommand(clientFile, ['sh', '-c', `for i in $(seq ${n}); do curl -s -o /dev/null ${url}; done`]);
    const c = await analyzeJson(clientFile);
    expect(c.tcp.totals.established).toBe(n);
    expect(c.tcp.connections.filter((x) => isServerEnd(x.local))).toEqual([]);
    expect(c.tcp.connections.filter((x) => isServerEnd(x.remote) && x.rttSamples > 0)).toHaveLength(n);

    // Only nginx traced (its listener older than the recording): the server ends of the same
    // connections, the handshake before accept included.
    const serverFile = join(dir, 'server.kcap');
    await recordWhile(serverFile, async () => {
      for (let i = 0; i < n; i++) await client('curl', ['-s', '-o', '/dev/null', url]);
    }, 30, ['--comm', 'nginx']);
    const s = await analyzeJson(serverFile);
    expect(s.tcp.totals.established).toBe(n);
    expect(s.tcp.connections.filter((x) => isServerEnd(x.remote))).toEqual([]);
    expect(s.tcp.connections.filter((x) => isServerEnd(x.local) && x.rttSamples > 0)).toHaveLength(n);
  });

  it('follows a traced listener\'s port in its own network namespace only', async () => {
    const n = 3;
    const m = 2;
    const url = `http://127.0.0.1:${nginx!.port}/`;
    // An untraced server on nginx's address and port, in a namespace of its own.
    const ns = `kcap-tcp-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    let twin: ChildProcess | undefined;
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      twin = await startTwin(nginx!.port, ['ip', 'netns', 'exec', ns]);
      const file = join(dir, 'netns.kcap');
      const twinSaid = await recordWhile(file, async () => {
        for (let i = 0; i < n; i++) await client('curl', ['-s', '-o', '/dev/null', url]);
        const said: string[] = [];
        for (let i = 0; i < m; i++) said.push(await client('ip', ['netns', 'exec', ns, 'curl', '-s', url]));
        return said;
      }, 30, ['--comm', 'nginx']);
      expect(twinSaid).toEqual(Array(m).fill('twin'));
      const r = await analyzeJson(file);
      // nginx's server ends only: the twin's connections share the port, not the namespace.
      expect(r.tcp.totals.established).toBe(n);
      expect(r.tcp.connections.filter((x) => x.local.endsWith(`:${nginx!.port}`) && x.rttSamples > 0)).toHaveLength(n);
    } finally {
      twin?.kill();
      execFileSync('ip', ['netns', 'delete', ns]);
    }
  });

  it.each(['before', 'during'])('stops following a traced listener\'s port once it closes (nginx listening from %s the recording)', async (when) => {
    const n = 3;
    const m = 2;
    const file = join(dir, `closed-${when}.kcap`);
    let server = when === 'before' ? await startNginx({ 'index.html': 'y' }) : undefined;
    let twin: ChildProcess | undefined;
    try {
      const { port, twinSaid } = await recordWhile(file, async () => {
        server ??= await startNginx({ 'index.html': 'y' });
        const url = `http://127.0.0.1:${server.port}/`;
        for (let i = 0; i < n; i++) await client('curl', ['-s', '-o', '/dev/null', url]);
        await server.stop();
        // An untraced server on the port nginx left, in the same namespace.
        twin = await startTwin(server.port);
        const said: string[] = [];
        for (let i = 0; i < m; i++) said.push(await client('curl', ['-s', url]));
        return { port: server.port, twinSaid: said };
      }, 30, ['--comm', 'nginx']);
      expect(twinSaid).toEqual(Array(m).fill('twin'));
      const r = await analyzeJson(file);
      // nginx's connections only: its port was followed while it listened, and no longer. A
      // nginx started during the recording also served startNginx's readiness check.
      expect(r.tcp.totals.established).toBe(n + (when === 'during' ? 1 : 0));
      expect(r.tcp.connections.every((x) => x.local.endsWith(`:${port}`) || x.remote.endsWith(`:${port}`))).toBe(true);
    } finally {
      twin?.kill();
      await server?.stop();
    }
  });
});

/** An untraced node HTTP server answering "twin" on 127.0.0.1:`port`, run through `prefix` (e.g. `ip netns exec NS`). */
async function startTwin(port: number, prefix: readonly string[] = []): Promise<ChildProcess> {
  const [cmd, ...args] = [...prefix, process.execPath, '-e',
    `require('http').createServer((q, s) => s.end('twin')).listen(${port}, '127.0.0.1', () => console.log('ready'))`];
  const twin = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ready, fail) => {
    twin.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) ready(); });
    twin.once('exit', (code) => fail(new Error(`the twin server exited ${code}`)));
  });
  return twin;
}
