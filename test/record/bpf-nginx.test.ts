/**
 * Recorder kernel side against a real nginx and curl on loopback: every request curl says it sent
 * appears as a client write and a server read with the request line as payload prefix and mirrored
 * 4-tuples, the response comes back the same way, and nginx's own process tree (fork of workers,
 * exec, exit) is recorded.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openProbes, type Probes } from '../../src/record/bpf/index.js';
import type { DecodedRecord } from '../../src/schema/decode.js';
import { decodeAll, describeBpf, drainAll, freePort, ipv4, spawnTraced, waitForPort, type Traced } from '../helpers/bpf.js';

const REQUESTS = 5;
const BODY = 'kcap nginx test body\n'.repeat(40);

function nginxConfig(dir: string, port: number): string {
  return `daemon off;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${port}; listen [::1]:${port}; root ${dir}/www; }
}
`;
}

const isIo = (r: DecodedRecord, dir: 'in' | 'out') => r.event.category === 'io' && r.event.dir === dir;
const text = (r: DecodedRecord) => Buffer.from((r.vars.data as Uint8Array | undefined) ?? []).toString('latin1');

describeBpf('BPF probes: nginx and curl', () => {
  let dir: string;
  let port: number;
  let probes: Probes;
  let nginx: Traced | undefined;
  const chunks: Buffer[] = [];
  let records: DecodedRecord[] = [];
  let curlOut = '';
  let curlPid = 0;
  let curl6Pid = 0;

  beforeAll(async () => {
    execFileSync('bash', ['scripts/ensure-packages.sh', 'nginx', 'curl'], { stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'kcap-nginx-'));
    mkdirSync(`${dir}/www`);
    for (let i = 0; i < REQUESTS; i++) writeFileSync(`${dir}/www/f${i}.html`, `${i} ${BODY}`);
    port = await freePort();
    writeFileSync(`${dir}/nginx.conf`, nginxConfig(dir, port));
    probes = openProbes({ pids: [], snaplen: 4096 });
    try {
      nginx = spawnTraced(`nginx -c ${dir}/nginx.conf -p ${dir}`, probes);
      await waitForPort(port);
      const urls = Array.from({ length: REQUESTS }, (_, i) => `-o /dev/null http://127.0.0.1:${port}/f${i}.html`);
      // -w prints, per URL, what curl itself says it sent and received.
      const curl = spawnTraced(`curl -s -w '%{size_request} %{size_download} %{http_code}\\n' ${urls.join(' ')}`, probes);
      curlPid = curl.pid;
      expect(await curl.exited).toBe(0);
      curlOut = curl.stdout();
      const curl6 = spawnTraced(`curl -s -o /dev/null http://[::1]:${port}/f0.html`, probes);
      curl6Pid = curl6.pid;
      expect(await curl6.exited).toBe(0);
    } finally {
      if (nginx) {
        nginx.child.kill('SIGQUIT');
        await nginx.exited;
      }
    }
    await drainAll(probes, chunks);
    records = decodeAll(chunks);
  });

  afterAll(() => {
    nginx?.child.kill('SIGKILL');
    probes?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing and attaches every tracepoint', () => {
    expect(probes.stats().skipped).toEqual([]);
    expect(probes.lostPerCpu().every((n) => n === 0)).toBe(true);
    expect(records.length).toBeGreaterThan(0);
  });

  it('sees every request curl sent, on both sides, with mirrored 4-tuples', () => {
    const lines = curlOut.trim().split('\n').map((l) => l.split(' ').map(Number));
    expect(lines).toHaveLength(REQUESTS);
    const access = readFileSync(`${dir}/access.log`, 'utf8').trim().split('\n');
    expect(access.filter((l) => l.startsWith('127.0.0.1 '))).toHaveLength(REQUESTS);

    const clientWrites = records.filter((r) => r.pid === curlPid && isIo(r, 'out') && text(r).startsWith('GET /f'));
    expect(clientWrites).toHaveLength(REQUESTS);
    // Bytes curl's write events carry = the request sizes curl reports.
    const sentByCurl = lines.reduce((n, l) => n + l[0]!, 0);
    expect(clientWrites.reduce((n, r) => n + Number(r.fields.res), 0)).toBe(sentByCurl);

    for (let i = 0; i < REQUESTS; i++) {
      const w = clientWrites.find((r) => text(r).startsWith(`GET /f${i}.html HTTP/1.1\r\n`));
      expect(w, `client write of request ${i}`).toBeDefined();
      const f = w!.fields;
      expect(f.family).toBe(2);
      expect(f.l4proto).toBe(6);
      expect(f.rport).toBe(port);
      expect(ipv4(f.raddr)).toBe('127.0.0.1');
      expect(Number(f.ino)).toBeGreaterThan(0);
      const serverRead = records.find((r) => r.pid !== curlPid && isIo(r, 'in') && text(r).startsWith(`GET /f${i}.html HTTP/1.1\r\n`));
      expect(serverRead, `server read of request ${i}`).toBeDefined();
      const s = serverRead!.fields;
      expect(s.lport).toBe(port);
      expect(s.rport).toBe(f.lport);
      expect(ipv4(s.laddr)).toBe(ipv4(f.raddr));
      expect(ipv4(s.raddr)).toBe(ipv4(f.laddr));
      expect(text(serverRead!)).toBe(text(w!).slice(0, text(serverRead!).length));
      expect(Number(s.latency)).toBeGreaterThanOrEqual(0);
    }
  });

  it('sees every response, whose bytes match what curl downloaded', () => {
    const lines = curlOut.trim().split('\n').map((l) => l.split(' ').map(Number));
    const reads = records.filter((r) => r.pid === curlPid && isIo(r, 'in') && r.fields.rport === port && Number(r.fields.res) > 0);
    const received = reads.reduce((n, r) => n + Number(r.fields.res), 0);
    const bodies = lines.reduce((n, l) => n + l[1]!, 0);
    expect(lines.every((l) => l[2] === 200)).toBe(true);
    expect(bodies).toBe(REQUESTS * (BODY.length + 2));
    // Headers come on top of the bodies curl counts.
    expect(received).toBeGreaterThan(bodies);
    const statusLines = reads.map(text).filter((t) => t.startsWith('HTTP/1.1 200 OK\r\n'));
    expect(statusLines.length).toBeGreaterThanOrEqual(1);
  });

  it('resolves IPv6 tuples', () => {
    const w = records.find((r) => r.pid === curl6Pid && isIo(r, 'out') && text(r).startsWith('GET /f0.html'));
    expect(w).toBeDefined();
    const loopback6 = Buffer.from('00000000000000000000000000000001', 'hex');
    expect(w!.fields.family).toBe(10);
    expect(w!.fields.rport).toBe(port);
    expect(Buffer.from(w!.fields.raddr as Uint8Array).equals(loopback6)).toBe(true);
    expect(Buffer.from(w!.fields.laddr as Uint8Array).equals(loopback6)).toBe(true);
    const server = records.find((r) => r.pid !== curl6Pid && isIo(r, 'in') && r.fields.family === 10 && r.fields.rport === w!.fields.lport);
    expect(server).toBeDefined();
    expect(text(server!).startsWith('GET /f0.html')).toBe(true);
  });

  it('records the accepts and connects that made the connection', () => {
    const connect = records.find((r) => r.name === 'connect' && r.pid === curlPid && r.fields.rport === port);
    expect(connect).toBeDefined();
    const sa = connect!.vars.addr as Uint8Array;
    expect(sa[0]! | (sa[1]! << 8)).toBe(2); // sockaddr_in family
    expect((sa[2]! << 8) | sa[3]!).toBe(port);
    const accept = records.find((r) => (r.name === 'accept4' || r.name === 'accept') && Number(r.fields.res) >= 0
      && r.fields.lport === port && r.fields.rport === connect!.fields.lport);
    expect(accept).toBeDefined();
    expect(accept!.fields.fd).toBe(Number(accept!.fields.res));
  });

  it('records the nginx process tree: exec, worker forks, exits', () => {
    const exec = records.find((r) => r.name === 'exec' && r.pid === nginx!.pid);
    expect(exec).toBeDefined();
    expect(exec!.vars.comm).toBe('nginx');
    expect(Buffer.from(exec!.vars.args as Uint8Array).toString().split('\0')).toContain(`${dir}/nginx.conf`);
    const forks = records.filter((r) => r.name === 'fork' && r.pid === nginx!.pid && r.fields.child_pid !== nginx!.pid);
    expect(forks.length).toBeGreaterThanOrEqual(2);
    for (const f of forks) {
      const exit = records.find((r) => r.name === 'exit' && r.pid === f.fields.child_pid && r.fields.group_dead === 1);
      expect(exit, `exit of worker ${f.fields.child_pid}`).toBeDefined();
    }
    expect(records.some((r) => r.name === 'exit' && r.pid === nginx!.pid && r.fields.group_dead === 1)).toBe(true);
  });

  it('never records the recorder itself', () => {
    expect(records.some((r) => r.pid === process.pid)).toBe(false);
  });
});
